pub mod delivery;
pub mod store;
