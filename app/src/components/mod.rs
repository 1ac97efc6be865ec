//! Reusable components, one public component per file.

mod key_maker;

pub use key_maker::KeyMaker;
