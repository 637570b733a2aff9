//! # datapact-node
//!
//! The datapact daemon as a library: the node directory ([`home`]), the store ([`store`]),
//! the operations behind each command ([`ops`]), the control socket ([`control`], [`api`]) and
//! the daemon that ties them together ([`daemon`]), with every background task it starts
//! owned by one tracker ([`tasks`]).

pub mod api;
pub mod backoff;
pub mod control;
pub mod daemon;
pub mod federation;
pub mod fsutil;
pub mod home;
pub mod network;
pub mod ops;
pub mod store;
pub mod tasks;
pub mod verdict;
