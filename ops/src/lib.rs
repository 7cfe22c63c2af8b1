//! anglegrad-ops (see ../shared/DESIGN.md §2).
