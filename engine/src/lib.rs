//! anglegrad-engine (see ../shared/DESIGN.md §2).
