//! The daemon: loads the node directory, opens the store, starts the network and serves the
//! control socket; shuts down cleanly when asked: stop accepting, let in-flight requests
//! finish (or abandon them after a grace period, which is safe because nothing is
//! acknowledged before it is flushed), stop the network, flush the store, remove the socket.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::home::{self, HomeError};
use crate::network::{self, NetError};
use crate::ops::Context;
use crate::store::{Store, StoreError};

/// How long in-flight requests may run after a shutdown signal before they are abandoned.
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
}

/// A started daemon. Dropping it without [`Running::stop`] leaves the tasks running until the
/// runtime ends.
pub struct Running {
    /// Everything the operations need; tests drive the node through it directly.
    pub ctx: Context,
    shutdown: broadcast::Sender<()>,
    done: mpsc::Receiver<()>,
    server: JoinHandle<()>,
    network: JoinHandle<()>,
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

    let (shutdown, _) = broadcast::channel::<()>(1);
    let listening = Arc::new(RwLock::new(Vec::new()));
    let (network_client, network) = network::start(
        home.clone(),
        store.clone(),
        listening.clone(),
        shutdown.clone(),
    )
    .await?;

    // The control socket opens only now that `network::start` has bound every listen
    // address: whoever gets an answer from it (`datapact id`) sees the real ports.
    // A socket file left by a daemon that was killed: nobody answered on it above.
    let _ = std::fs::remove_file(&socket_path);
    let socket_err = |source| DaemonError::Socket {
        path: socket_path.clone(),
        source,
    };
    let listener = UnixListener::bind(&socket_path).map_err(socket_err)?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))
        .map_err(socket_err)?;

    let ctx = Context {
        home,
        store,
        listening,
        network: network_client,
        pulls: Arc::default(),
    };
    tracing::info!(
        member = %ctx.home.member,
        peer_id = %ctx.home.identity.peer_id(),
        control = %socket_text,
        "daemon started"
    );
    let (done_tx, done) = mpsc::channel::<()>(1);
    let server = tokio::spawn(crate::control::serve(
        listener,
        ctx.clone(),
        shutdown.clone(),
        done_tx,
    ));
    Ok(Running {
        ctx,
        shutdown,
        done,
        server,
        network,
        socket_path,
    })
}

impl Running {
    /// Shuts down cleanly.
    pub async fn stop(mut self) -> Result<(), DaemonError> {
        tracing::info!("shutting down");
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        if tokio::time::timeout(SHUTDOWN_GRACE, self.done.recv())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish in time; abandoning them");
        }
        let _ = self.network.await;
        if !self.ctx.network.tasks.wait_idle(SHUTDOWN_GRACE).await {
            tracing::warn!("network tasks did not finish in time; abandoning them");
        }
        self.ctx.store.flush().await?;
        let _ = std::fs::remove_file(&self.socket_path);
        tracing::info!("stopped cleanly");
        Ok(())
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
