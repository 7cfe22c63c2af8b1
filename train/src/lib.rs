//! anglegrad-train (see ../shared/DESIGN.md §2).

pub mod checkpoint;
pub mod optim;
