//! cancel-token on smol and async-std: the examples `smol_deadline`,
//! `async_std_deadline` and `library_timeout`, and the tests of a library's
//! timeouts on those runtimes' clocks (`tests/`). Nothing to import.
