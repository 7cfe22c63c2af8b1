//! anglegrad-train (see ../shared/DESIGN.md §2).
