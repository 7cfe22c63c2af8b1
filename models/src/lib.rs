//! anglegrad-models (see ../shared/DESIGN.md §2).
