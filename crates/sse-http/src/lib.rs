//! The suite's HTTP client side, loopback only: the network every connection goes through
//! ([`net::Net`]: loopback sockets or the simulator), reading an event stream as a careful client
//! reads from a server it does not trust ([`fetch`]), one small request and answer ([`call`]),
//! and the processes at the other end of an exchange ([`process`]). Every read has a time and a
//! size limit.

pub mod call;
pub mod decode;
mod error;
pub mod exchange;
pub mod fetch;
pub mod net;
pub mod process;
