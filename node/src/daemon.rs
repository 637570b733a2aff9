//! The daemon: loads the node directory, opens the store, starts the network and serves the
//! control socket; shuts down cleanly when asked: every background task is told to stop
//! ([`Tasks`]): the control socket stops accepting, in-flight requests finish, the swarm task
//! and the content server end, retried deliveries stop between attempts. Once the last task has
//! ended (or a grace period has passed, which is safe because nothing is acknowledged before it
//! is flushed), the store is flushed and closed, releasing its lock, and the socket is removed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::UnixListener;

use crate::home::{self, HomeError};
use crate::network::{self, NetError};
use crate::ops::Context;
use crate::store::{Store, StoreError};
use crate::tasks::Tasks;

/// How long background tasks may run after shutdown begins before they are abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The node directory is missing or unsafe.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The network could not start (e.g. the port is in use).
    #[error(transparent)]
    Network(#[from] NetError),
    /// Another daemon answers on the control socket of this node directory.
    #[error("a daemon is already running on {dir}", dir = .0.display())]
    AlreadyRunning(PathBuf),
    /// The control socket could not be created.
    #[error("control socket {path}: {source}", path = .path.display())]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Shutdown ended with the store still open: background tasks did not stop within
    /// [`SHUTDOWN_GRACE`], or a copy of the context outlives the daemon. The store was
    /// flushed; it closes when the last holder lets go.
    #[error(
        "the store is still in use after shutdown ({tasks} background tasks did not stop \
         within {SHUTDOWN_GRACE:?}); it was flushed and closes when the last user ends"
    )]
    StoreInUse {
        /// Background tasks still running.
        tasks: usize,
    },
}

/// A started daemon. Dropping it without [`Running::stop`] leaves the tasks running until the
/// runtime ends.
pub struct Running {
    /// Everything the operations need; tests drive the node through it directly.
    pub ctx: Context,
    /// The control socket, removed at shutdown.
    socket_path: PathBuf,
}

/// Starts the daemon on `dir`.
pub async fn start(dir: &Path) -> Result<Running, DaemonError> {
    // Before the store opens: sled creates its files with the default mode.
    crate::fsutil::restrict_umask();
    let home = Arc::new(home::load(dir)?);
    let socket_path = home.layout.control_socket();
    let socket_text = socket_path.display().to_string();
    if std::os::unix::net::UnixStream::connect(&socket_path).is_ok() {
        return Err(DaemonError::AlreadyRunning(dir.to_owned()));
    }
    let layout = home.layout.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&layout))
        .await
        .map_err(StoreError::Interrupted)??;
    let store = Arc::new(store);

    let tasks = Tasks::new();
    let listening = Arc::new(RwLock::new(Vec::new()));
    let started = network::start(
        home.clone(),
        store.clone(),
        listening.clone(),
        tasks.clone(),
    )
    .await;
    let network_client = match started {
        Ok(client) => client,
        Err(e) => {
            // Whatever the network spawned before failing stops, and the store is released.
            let _ = close(tasks, store).await;
            return Err(e.into());
        }
    };

    // The control socket opens only now that `network::start` has bound every listen
    // address: whoever gets an answer from it (`datapact id`) sees the real ports.
    // A socket file left by a daemon that was killed: nobody answered on it above.
    let _ = std::fs::remove_file(&socket_path);
    let socket_err = |source| DaemonError::Socket {
        path: socket_path.clone(),
        source,
    };
    let ctx = Context {
        home,
        store,
        listening,
        network: network_client,
        pulls: Arc::default(),
        tasks,
    };
    let listener = match bind_socket(&socket_path) {
        Ok(listener) => listener,
        Err(e) => {
            let Context { tasks, store, .. } = ctx;
            let _ = close(tasks, store).await;
            return Err(socket_err(e));
        }
    };
    tracing::info!(
        member = %ctx.home.member,
        peer_id = %ctx.home.identity.peer_id(),
        control = %socket_text,
        "daemon started"
    );
    ctx.tasks
        .spawn(crate::control::serve(listener, ctx.clone()));
    Ok(Running { ctx, socket_path })
}

/// Binds the control socket, readable and writable by its owner only.
fn bind_socket(path: &Path) -> std::io::Result<UnixListener> {
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Stops every task, then flushes and closes the store, releasing its lock. The store is
/// dropped on the blocking pool: closing sled waits for its own flushing thread.
async fn close(tasks: Tasks, store: Arc<Store>) -> Result<(), DaemonError> {
    let ended = tasks.shut_down(SHUTDOWN_GRACE).await;
    let left = tasks.len();
    if !ended {
        tracing::warn!(
            tasks = left,
            "background tasks did not stop in time; abandoning them"
        );
    }
    match Arc::try_unwrap(store) {
        Ok(store) => {
            tokio::task::spawn_blocking(move || {
                let flushed = store.flush_blocking();
                drop(store);
                flushed
            })
            .await
            .map_err(StoreError::Interrupted)??;
            Ok(())
        }
        // An abandoned task still holds it: flush what is there; it closes when they end.
        Err(shared) => {
            shared.flush().await?;
            Err(DaemonError::StoreInUse { tasks: left })
        }
    }
}

impl Running {
    /// Shuts down cleanly; returns once every background task has ended and the store is
    /// closed, so the node directory can be opened again at once.
    pub async fn stop(self) -> Result<(), DaemonError> {
        tracing::info!("shutting down");
        let Running { ctx, socket_path } = self;
        let Context { tasks, store, .. } = ctx;
        let closed = close(tasks, store).await;
        let _ = std::fs::remove_file(&socket_path);
        if closed.is_ok() {
            tracing::info!("stopped cleanly");
        }
        closed
    }
}

/// Runs the daemon on `dir` until `shutdown` completes.
pub async fn run(
    dir: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let running = start(dir).await?;
    shutdown.await;
    running.stop().await
}
