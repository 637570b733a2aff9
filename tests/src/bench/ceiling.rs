//! The pull benchmark's ceiling: a bare libp2p stream over the node's own transport (TCP +
//! Noise + Yamux, with the settings of `datapact_node::network::{tcp_config, yamux_config}`)
//! moving a given number of bytes from one process to another on 127.0.0.1, with nothing of
//! a pull around it (no file read, no hashing, no disk write).
//!
//! The pull benchmark runs its own executable again in one of two roles:
//! [`SENDER_ROLE`] listens and answers every stream on [`PROTOCOL`] with as many bytes as the
//! stream's first eight bytes ask for, read from memory; [`RECEIVER_ROLE`] dials it, waits
//! for the connection, then opens a stream, reads until the sender closes it and prints the
//! seconds from opening the stream to the last byte, and its own CPU time. Like the two
//! daemons of a pull, each side is a process of its own with a multi-threaded tokio runtime,
//! and the connection is up before the clock starts. [`Sender`] and [`Sender::time`] are the
//! benchmark's side of it.

use std::io::{BufRead as _, Write as _};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, noise};
use tokio::sync::oneshot;

/// First argument of the sender process; the second is the bench's own `--bench`, if any.
pub const SENDER_ROLE: &str = "--ceiling-sender";
/// First argument of the receiver process, followed by the sender's address and the size.
pub const RECEIVER_ROLE: &str = "--ceiling-receiver";
/// The stream protocol between the two: nothing a daemon speaks.
const PROTOCOL: StreamProtocol = StreamProtocol::new("/datapact-bench/ceiling/1");
/// Bytes handed to the stream per write, and read per read: a pull's chunk size, so both
/// sides make the calls a pull makes.
const PIECE: usize = 1 << 20;
/// How long the receiver may take to connect, and the sender to report its address.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// Prefix of the sender's line on stdout that gives its full address.
pub const LISTENING: &str = "listening ";
/// Prefix of the receiver's line on stdout that gives the transfer time.
const SECONDS: &str = "seconds ";
/// Prefix of the receiver's line on stdout that gives its CPU time, user and system.
const CPU: &str = "cpu ";
/// Clock ticks per second of `/proc/PID/stat` times: `USER_HZ`, 100 on Linux.
const USER_HZ: f64 = 100.0;

/// CPU time (user and system) of process `pid` so far, in seconds.
pub fn cpu_secs(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .with_context(|| format!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}

/// The sender process, killed when dropped.
pub struct Sender {
    child: Child,
    /// Its address, ending in `/p2p/PEER`.
    pub addr: String,
}

/// One timed bare-stream transfer.
pub struct Timed {
    /// From opening the stream to its last byte.
    pub secs: f64,
    /// CPU time of the sender and the receiver process over the transfer (the receiver's
    /// includes its start and connection).
    pub cpu_secs: f64,
}

impl Sender {
    /// Starts the sender: this executable again, in [`SENDER_ROLE`].
    pub fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(SENDER_ROLE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("spawning the bare-stream sender")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut sender = Sender {
            child,
            addr: String::new(),
        };
        // The sender gives up on its own after its deadline, which ends this read too.
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        match line.trim().strip_prefix(LISTENING) {
            Some(addr) => sender.addr = addr.to_owned(),
            None => bail!("the bare-stream sender did not start: {line:?}"),
        }
        Ok(sender)
    }

    /// Runs a receiver process for `size` bytes and times the transfer.
    pub fn time(&self, size: u64) -> anyhow::Result<Timed> {
        let pid = self.child.id().to_string();
        let sender_cpu = cpu_secs(&pid)?;
        let out = Command::new(std::env::current_exe()?)
            .args([RECEIVER_ROLE, &self.addr, &size.to_string()])
            .stdin(Stdio::null())
            .output()
            .context("running the bare-stream receiver")?;
        let sender_cpu = cpu_secs(&pid)? - sender_cpu;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "the bare-stream receiver failed ({}): {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let value = |prefix: &str| -> anyhow::Result<f64> {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|s| s.trim().parse().ok())
                .with_context(|| format!("no {prefix:?} from the bare-stream receiver: {stdout:?}"))
        };
        Ok(Timed {
            secs: value(SECONDS)?,
            cpu_secs: sender_cpu + value(CPU)?,
        })
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the role named by the first argument, if it names one.
pub fn run_role() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some(SENDER_ROLE) => runtime().and_then(|rt| rt.block_on(send())),
        Some(RECEIVER_ROLE) => match (args.get(1), args.get(2)) {
            (Some(addr), Some(size)) => runtime().and_then(|rt| rt.block_on(receive(addr, size))),
            _ => Err(anyhow::anyhow!("usage: {RECEIVER_ROLE} ADDR BYTES")),
        },
        _ => return None,
    };
    Some(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    })
}

/// The daemon's runtime: multi-threaded, one worker per core.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A swarm with the node's transport and nothing but libp2p-stream on top.
fn swarm() -> anyhow::Result<Swarm<libp2p_stream::Behaviour>> {
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            datapact_node::network::tcp_config(),
            noise::Config::new,
            datapact_node::network::yamux_config,
        )?
        .with_behaviour(|_| libp2p_stream::Behaviour::new())?
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(datapact_node::network::IDLE_CONNECTION_TIMEOUT)
        })
        .build())
}

/// The sender: prints its address, then serves every stream until it is killed.
async fn send() -> anyhow::Result<()> {
    let mut swarm = swarm()?;
    let mut incoming = swarm.behaviour().new_control().accept(PROTOCOL)?;
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    let peer = *swarm.local_peer_id();
    let addr = tokio::time::timeout(CONNECT_DEADLINE, async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                return address;
            }
        }
    })
    .await
    .context("the sender got no listen address")?;
    println!("{LISTENING}{addr}/p2p/{peer}");
    std::io::stdout().flush()?;
    tokio::spawn(async move {
        loop {
            swarm.select_next_some().await;
        }
    });
    // Pseudo-random rather than zeros, although the cipher does not care.
    let piece: Vec<u8> = (0..PIECE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let piece = std::sync::Arc::new(piece);
    while let Some((_, stream)) = incoming.next().await {
        let piece = piece.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(stream, &piece).await {
                eprintln!("ceiling sender: stream failed: {e}");
            }
        });
    }
    Ok(())
}

/// Sends the number of bytes the stream asks for, then closes it.
async fn serve(mut stream: libp2p::Stream, piece: &[u8]) -> std::io::Result<()> {
    let mut ask = [0u8; 8];
    stream.read_exact(&mut ask).await?;
    let mut left = u64::from_be_bytes(ask);
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        stream.write_all(&piece[..n]).await?;
        left -= n as u64;
    }
    stream.flush().await?;
    stream.close().await
}

/// The receiver: connects to `addr`, then times one stream of `size` bytes.
async fn receive(addr: &str, size: &str) -> anyhow::Result<()> {
    let addr: Multiaddr = addr.parse()?;
    let size: u64 = size.parse()?;
    let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
        bail!("{addr} does not end in /p2p/PEER");
    };
    let (secs, got) = timed_stream(addr.clone(), peer, size).await?;
    if got != size {
        bail!("received {got} bytes instead of {size}");
    }
    println!("{SECONDS}{secs}");
    println!("{CPU}{}", cpu_secs("self")?);
    Ok(())
}

/// Dials, waits for the connection, then opens a stream and reads it to its end; returns
/// the seconds from opening it to the last byte, and the bytes read.
async fn timed_stream(addr: Multiaddr, peer: PeerId, size: u64) -> anyhow::Result<(f64, u64)> {
    let mut swarm = swarm()?;
    let mut control = swarm.behaviour().new_control();
    swarm.dial(addr)?;
    let (connected_tx, connected) = oneshot::channel();
    tokio::spawn(async move {
        let mut connected_tx = Some(connected_tx);
        loop {
            if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await
                && let Some(tx) = connected_tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    tokio::time::timeout(CONNECT_DEADLINE, connected)
        .await
        .context("no connection to the sender")?
        .context("the swarm task stopped")?;
    let start = Instant::now();
    let mut stream = control.open_stream(peer, PROTOCOL).await?;
    stream.write_all(&size.to_be_bytes()).await?;
    stream.flush().await?;
    let mut buf = vec![0u8; PIECE];
    let mut got = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    Ok((start.elapsed().as_secs_f64(), got))
}
