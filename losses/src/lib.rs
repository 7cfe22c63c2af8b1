//! anglegrad-losses (see ../shared/DESIGN.md §2).
