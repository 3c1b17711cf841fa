// Parley web client entry point.
