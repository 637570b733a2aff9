//! Several in-process nodes together: [`Federation`], nodes that all list each other in their
//! rosters, connected, with gossip known to flow between every pair ([`wait_gossip`]); plus
//! outsiders that list members the members do not list back.

use std::time::{Duration, Instant};

use datapact_protocol::wire::SignedStatement;

use crate::DEADLINE;
use crate::node::{Dial, TestNode};
use crate::wait::SLOW;

/// How long one gossip probe may take before it is sent again (sending another is harmless).
const PROBE_ROUND: Duration = Duration::from_millis(250);

/// Waits until gossip flows from `from` to each of `to`: `from` publishes a probe that every
/// receiver rejects (so it is counted and never forwarded), until each receiver has counted
/// one. A receiver that counts a probe got it from `from` itself, so `from` knows it
/// subscribes to the topic and its later publications reach it.
pub async fn wait_gossip(from: &TestNode, to: &[&TestNode]) {
    let probe = SignedStatement::Announcement(b"datapact-tests gossip probe".to_vec());
    let start = Instant::now();
    loop {
        let before: Vec<u64> = to.iter().map(|n| n.rejected()).collect();
        // Fails while `from` knows no subscriber at all; the round below then times out.
        let _ = tokio::time::timeout(PROBE_ROUND, from.ctx().network.publish(probe.clone())).await;
        let round = Instant::now();
        let arrived = loop {
            let all = to.iter().zip(&before).all(|(n, b)| n.rejected() > *b);
            if all || round.elapsed() > PROBE_ROUND {
                break all;
            }
            // An interval between polls, bounded by PROBE_ROUND and DEADLINE.
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if arrived {
            if start.elapsed() > SLOW {
                eprintln!(
                    "note: gossip from {} took {:?} to flow",
                    from.member,
                    start.elapsed()
                );
            }
            return;
        }
        let elapsed = start.elapsed();
        let names: Vec<&str> = to.iter().map(|n| n.member.as_str()).collect();
        assert!(
            elapsed < DEADLINE,
            "timed out after {elapsed:?} waiting for gossip from {} to reach {names:?}",
            from.member
        );
    }
}

/// Several nodes that all list each other, connected, gossip flowing between every pair.
pub struct Federation {
    /// The members, in the order given.
    pub nodes: Vec<TestNode>,
}

impl std::ops::Index<&str> for Federation {
    type Output = TestNode;
    fn index(&self, member: &str) -> &TestNode {
        self.nodes
            .iter()
            .find(|n| n.member == member)
            .unwrap_or_else(|| panic!("no member {member} in this federation"))
    }
}

impl Federation {
    /// Starts one node per member code and joins them.
    pub async fn new(members: &[&str]) -> Federation {
        let nodes = futures::future::join_all(members.iter().map(|m| TestNode::start(m))).await;
        Federation::join(nodes).await
    }

    /// Joins running nodes: every node lists every other, they connect, and gossip flows
    /// between every pair.
    ///
    /// Rosters are filled in two rounds, keys first and addresses second, so that when two
    /// nodes connect each already lists the other and asks it to catch up.
    pub async fn join(nodes: Vec<TestNode>) -> Federation {
        let fed = Federation { nodes };
        for dial in [Dial::No, Dial::Yes] {
            for a in &fed.nodes {
                for b in &fed.nodes {
                    if a.member != b.member {
                        a.add_member(b, dial).await;
                    }
                }
            }
        }
        fed.wait_mesh().await;
        fed
    }

    /// Waits until every pair is connected and gossip flows both ways between every pair.
    pub async fn wait_mesh(&self) {
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                a.wait_connected(b).await;
            }
        }
        for a in &self.nodes {
            let others: Vec<&TestNode> =
                self.nodes.iter().filter(|b| b.member != a.member).collect();
            wait_gossip(a, &others).await;
        }
    }

    /// The node of `member`, mutable (to stop or restart it).
    pub fn node_mut(&mut self, member: &str) -> &mut TestNode {
        self.nodes
            .iter_mut()
            .find(|n| n.member == member)
            .unwrap_or_else(|| panic!("no member {member} in this federation"))
    }

    /// Stops `member`.
    pub async fn stop(&mut self, member: &str) {
        self.node_mut(member).stop().await;
    }

    /// Starts `member` again (stopping it first if it runs). It listens on a new port, so every
    /// other running member's roster entry is pointed at the new address (the restarted node
    /// dials the others from its own roster too); then waits until the federation is whole.
    pub async fn restart(&mut self, member: &str) {
        self.node_mut(member).restart().await;
        let restarted = &self[member];
        for other in self.nodes.iter().filter(|n| n.member != member) {
            other.add_member(restarted, Dial::Yes).await;
        }
        self.wait_mesh().await;
    }

    /// Starts a node that lists `trusts` (members of this federation, with their addresses) in
    /// its roster while no member lists it: a peer outside every member's roster. Waits until
    /// it is connected to each of them.
    pub async fn start_outsider(&self, member: &str, trusts: &[&str]) -> TestNode {
        let outsider = TestNode::start(member).await;
        for m in trusts {
            outsider.add_member(&self[m], Dial::Yes).await;
        }
        for m in trusts {
            outsider.wait_connected(&self[m]).await;
        }
        outsider
    }

    /// Stops every running node cleanly.
    pub async fn shutdown(mut self) {
        for node in &mut self.nodes {
            if node.is_running() {
                node.stop().await;
            }
        }
    }
}
