//! The storage conformance suite: behaviour every [`Store`] must show.
//! Backends' integration tests call [`run_all`] with a factory for fresh,
//! empty stores.
