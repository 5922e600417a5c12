//! The SSH server: Bangmail's commands over the mailbox's own code.
//!
//! - Authentication. An SSH user whose address (`USER@<domain>`) has a
//!   binding in the log must prove a current Ed25519 device key of it with
//!   public-key authentication; nothing else is accepted for that name. Any
//!   other user name is accepted with `none`: an anonymous session, which may
//!   only send (`bangmail-receive`), as in Bangmail. Every fetch and
//!   acknowledgement checks the key against the log again, so a connection
//!   opened before a rotation or a revocation reads nothing after it.
//! - Commands (exec requests only; shells, terminals, environment, X11,
//!   agent and port forwarding are refused):
//!   - `bangmail-receive USER`: standard input carries ank envelopes (the
//!     JSON of `POST /v1/messages`), one per line. Each goes through
//!     [`MailState::accept`], the HTTP path's own checks and limits, and gets
//!     one JSON line on standard output: `{"id":…,"stored":…}` or
//!     `{"error":CODE,"message":…}`. The exit status is 0 when every line was
//!     accepted, 1 otherwise. A line is at most [`MAX_REQUEST`] bytes.
//!   - `bangmail-fetch [--read-once] USER` (authenticated as USER): the
//!     messages as newline-delimited envelope JSON. With `--read-once` they
//!     are deleted once all of them were handed to the connection and the
//!     session then ended cleanly, with the client's SSH disconnect message
//!     (a session that breaks leaves them for the next fetch). OpenSSH sends
//!     that message when it exits, also when interrupted, so a client
//!     stopped in the last moments may lose what was still in flight: that
//!     is Bangmail's bargain. Without `--read-once`, `bangmail-ack` deletes
//!     them (loss-free, the default).
//!   - `bangmail-ack USER ID...` (authenticated as USER): deletes those
//!     messages; prints `{"deleted":N}`.
//! - Limits ([`SshSettings`]): connections are capped in all and per
//!   client address, and a connection has at most four channels open or
//!   running a command at once (one after another, any number); a connection that has not authenticated within the
//!   login grace is closed, a session lasts at most the session limit, an
//!   idle one is closed; authentication attempts are few (six, each refusal
//!   slowed); standard input is bounded per line ([`MAX_REQUEST`]) and per
//!   session; answers waiting to go out are capped at 256 KiB, past which
//!   the client's next input ends the connection. A client that reads its
//!   answers stays far below it when it sends envelopes; one that does not
//!   read, or that sends floods of tiny refused lines (each 2-byte line
//!   earns a 70-byte answer), reaches it. Sending is rate-limited by the mailbox,
//!   per client address and per verified sender, as over HTTP.
//!
//! # Error codes
//!
//! Besides the mailbox's refusal codes: `bad_json`, `plaintext_refused` (a
//! plain Bangmail message), `wrong_recipient`, `line_too_large`,
//! `not_authenticated`, `unknown_command`, `no_message`.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::lines::{Piece, Splitter};
use ank_mailbox::api::MAX_REQUEST;
use ank_mailbox::api::MailState;
use ank_mailbox::store::Put;
use ank_proofs::Address;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use russh::server::{Auth, ChannelOpenHandle, Handle, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};

/// Limits of the SSH door.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Most connections at once; more are closed at once.
    pub max_connections: usize,
    /// Most connections at once from one client address.
    pub max_per_address: usize,
    /// How long a connection may take to authenticate (anonymously or
    /// with a key), from its first byte.
    pub login_grace: Duration,
    /// The longest a session may last.
    pub session_limit: Duration,
    /// How long a connection may stay silent.
    pub idle: Duration,
    /// Most bytes of standard input in one session.
    pub max_stdin: u64,
}

impl Default for SshSettings {
    fn default() -> SshSettings {
        SshSettings {
            max_connections: 256,
            max_per_address: 16,
            login_grace: Duration::from_secs(30),
            session_limit: Duration::from_secs(30 * 60),
            idle: Duration::from_secs(60),
            max_stdin: 256 * 1024 * 1024,
        }
    }
}

/// The SSH door of one mailbox.
pub struct SshServer {
    state: MailState,
    domain: String,
    config: Arc<russh::server::Config>,
    settings: SshSettings,
    /// Open connections per client address.
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl std::fmt::Debug for SshServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshServer({})", self.domain)
    }
}

impl SshServer {
    /// The door of `state`'s mailbox for `domain`, with `host_key`.
    pub fn new(
        state: MailState,
        domain: &str,
        host_key: russh::keys::PrivateKey,
        settings: SshSettings,
    ) -> Arc<SshServer> {
        let mut methods = MethodSet::empty();
        methods.push(MethodKind::None);
        methods.push(MethodKind::PublicKey);
        let config = russh::server::Config {
            server_id: russh::SshId::Standard("SSH-2.0-ank".into()),
            methods,
            auth_rejection_time: Duration::from_millis(300),
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![host_key],
            max_auth_attempts: 6,
            inactivity_timeout: Some(settings.idle),
            nodelay: true,
            ..Default::default()
        };
        Arc::new(SshServer {
            state,
            domain: domain.to_ascii_lowercase(),
            config: Arc::new(config),
            settings,
            open: Mutex::default(),
        })
    }

    /// Serves connections from `listener` until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Some(slot) = self.admit(peer.ip()) else {
                drop(stream);
                continue;
            };
            let srv = Arc::clone(&self);
            tokio::spawn(async move {
                let _slot = slot;
                let read_once: ReadOnce = Arc::default();
                let (authed, mut authed_rx) = tokio::sync::watch::channel(false);
                let conn = Conn {
                    srv: Arc::clone(&srv),
                    peer: Some(peer),
                    user: None,
                    chans: HashMap::new(),
                    read_once: Arc::clone(&read_once),
                    authed,
                    live: Arc::default(),
                };
                let (limit, grace) = (srv.settings.session_limit, srv.settings.login_grace);
                let session = async {
                    match russh::server::run_stream(Arc::clone(&srv.config), stream, conn).await {
                        Ok(session) => session.await.is_ok(),
                        Err(_) => false,
                    }
                };
                let run = async {
                    tokio::pin!(session);
                    tokio::select! {
                        clean = &mut session => return clean,
                        a = tokio::time::timeout(grace, authed_rx.wait_for(|a| *a)) => {
                            if !matches!(a, Ok(Ok(_))) {
                                // Not authenticated in time: dropping the
                                // session closes the connection.
                                return false;
                            }
                        }
                    }
                    session.await
                };
                let clean = tokio::time::timeout(limit, run).await.unwrap_or(false);
                // `--read-once`: what was written is deleted once the session
                // ended cleanly; a broken one leaves it for the next fetch.
                if clean {
                    let done: Vec<(Address, Vec<[u8; 16]>)> = read_once
                        .lock()
                        .map(|mut g| {
                            g.drain(..)
                                .filter_map(|(a, slot)| {
                                    slot.lock()
                                        .ok()
                                        .and_then(|mut s| s.take())
                                        .map(|ids| (a, ids))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    for (address, ids) in done {
                        let store = Arc::clone(&srv.state.store);
                        let who = address.to_string();
                        let _ = tokio::task::spawn_blocking(move || store.ack(&who, &ids)).await;
                    }
                }
            });
        }
    }

    /// Counts a connection from `ip` in, within both caps: its slot, given
    /// back when dropped, or `None` when either cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        let mine = open.get(&ip).copied().unwrap_or(0);
        if mine >= self.settings.max_per_address
            || open.values().sum::<usize>() >= self.settings.max_connections
        {
            return None;
        }
        open.insert(ip, mine + 1);
        Some(Slot {
            srv: Arc::clone(self),
            ip,
        })
    }

    /// `USER` or `USER@<domain>` as an address of this mailbox.
    fn address(&self, user: &str) -> Option<Address> {
        let full = if user.contains('@') {
            user.to_owned()
        } else {
            format!("{user}@{}", self.domain)
        };
        Address::parse(&full)
            .ok()
            .filter(|a| a.domain() == self.domain)
    }

    /// The current Ed25519 device keys of `address`, as the log proves them
    /// (`None`: no binding, or no key).
    async fn current_keys(&self, address: &Address) -> Option<Vec<[u8; 32]>> {
        let resolved = self.state.resolver.current(address).await.ok()?;
        let keys: Vec<[u8; 32]> = resolved
            .keys?
            .devices()
            .iter()
            .map(|d| d.signing_key)
            .collect();
        (!keys.is_empty()).then_some(keys)
    }
}

/// The `--read-once` fetches of a session: each address and, once every
/// message was handed to the session, their ids.
type ReadOnce = Arc<Mutex<Vec<(Address, Written)>>>;

/// The ids a `--read-once` fetch wrote, once it wrote all of them.
type Written = Arc<Mutex<Option<Vec<[u8; 16]>>>>;

/// What a channel is doing.
enum Chan {
    /// Opened, waiting for its command.
    Open(Live),
    /// `bangmail-receive`, taking standard input.
    Receive {
        lines: tokio::sync::mpsc::Sender<Piece>,
        splitter: Splitter,
        bytes: u64,
    },
}

/// Most channels of one connection that are open or running a command.
const CHANNELS: usize = 4;

/// One of a connection's [`CHANNELS`]: held by the channel, then by its
/// command's task until the command ends.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn take(count: &Arc<AtomicUsize>) -> Option<Live> {
        count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < CHANNELS).then_some(n + 1)
            })
            .ok()
            .map(|_| Live(Arc::clone(count)))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One admitted connection; dropping it gives its place back.
struct Slot {
    srv: Arc<SshServer>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.srv.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// One connection.
struct Conn {
    srv: Arc<SshServer>,
    peer: Option<SocketAddr>,
    /// The address proven by public-key authentication, and the key.
    user: Option<(Address, [u8; 32])>,
    chans: HashMap<ChannelId, Chan>,
    read_once: ReadOnce,
    /// Told when authentication succeeds (ends the login grace).
    authed: tokio::sync::watch::Sender<bool>,
    /// Channels open or running a command (see [`Live`]).
    live: Arc<AtomicUsize>,
}

fn error_line(code: &str, message: &str) -> Vec<u8> {
    let mut l = serde_json::json!({ "error": code, "message": message }).to_string();
    l.push('\n');
    l.into_bytes()
}

/// A command line, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Receive(String),
    Fetch { user: String, read_once: bool },
    Ack { user: String, ids: Vec<String> },
}

fn parse_command(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let usage = "this server runs only `bangmail-receive USER`, `bangmail-fetch [--read-once] USER` and `bangmail-ack USER ID...`";
    match words.as_slice() {
        ["bangmail-receive", user] => Ok(Command::Receive((*user).to_owned())),
        ["bangmail-fetch", user] => Ok(Command::Fetch {
            user: (*user).to_owned(),
            read_once: false,
        }),
        ["bangmail-fetch", "--read-once", user] => Ok(Command::Fetch {
            user: (*user).to_owned(),
            read_once: true,
        }),
        ["bangmail-ack", user, ids @ ..] if !ids.is_empty() => Ok(Command::Ack {
            user: (*user).to_owned(),
            ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        }),
        _ => Err(usage.to_owned()),
    }
}

/// Ends a command: its exit status, then EOF and close.
async fn finish(handle: &Handle, channel: ChannelId, status: u32) {
    let _ = handle.exit_status_request(channel, status).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// Accepts one line of `bangmail-receive`: (its answer line, accepted).
async fn accept_line(
    srv: Arc<SshServer>,
    peer: Option<IpAddr>,
    recipient: Address,
    line: Vec<u8>,
) -> (Vec<u8>, bool) {
    let env: ank_mail_format::Envelope = match serde_json::from_slice(&line) {
        Ok(e) => e,
        Err(err) => {
            let plain = serde_json::from_slice::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .is_some_and(|o| {
                    ["from", "to", "subject", "body"]
                        .iter()
                        .all(|k| o.contains_key(*k))
                });
            if plain {
                return (
                    error_line(
                        "plaintext_refused",
                        "this mailbox accepts only messages sealed to the recipient's key as its domain's log proves it, not plain Bangmail messages; send with `ank send` (over HTTPS, or `--via ssh`), which seals and signs the message",
                    ),
                    false,
                );
            }
            return (error_line("bad_json", &err.to_string()), false);
        }
    };
    if !env.to.eq_ignore_ascii_case(&recipient.to_string()) {
        return (
            error_line(
                "wrong_recipient",
                &format!(
                    "this envelope is for {}, not {recipient}",
                    env.to.chars().take(320).collect::<String>()
                ),
            ),
            false,
        );
    }
    match srv.state.accept(env, peer).await {
        Ok((put, id)) => {
            let mut l = serde_json::json!({ "id": B64.encode(id), "stored": put == Put::Stored })
                .to_string();
            l.push('\n');
            (l.into_bytes(), true)
        }
        Err(r) => (error_line(r.kind.code(), &r.message), false),
    }
}

/// Runs `bangmail-receive`: accepts lines as they come, several at once,
/// and answers in their order.
async fn receive(
    srv: Arc<SshServer>,
    peer: Option<IpAddr>,
    handle: Handle,
    channel: ChannelId,
    recipient: Address,
    mut lines: tokio::sync::mpsc::Receiver<Piece>,
) {
    const IN_FLIGHT: usize = 64;
    // Answers go out through a writer of their own. The session's loop
    // waits in `data` for this task to take lines, so this task must never
    // wait for that loop: it only queues answers. A client that sends and
    // never reads would grow that queue, so it is capped in bytes: past the
    // cap this task stops taking input, and the client's next input ends
    // the connection (see `data`).
    const MAX_BACKLOG: usize = 256 * 1024;
    let queued = Arc::new(AtomicUsize::new(0));
    let (out, mut answers) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, u32>>();
    let writer = {
        let queued = Arc::clone(&queued);
        tokio::spawn(async move {
            // Everything queued goes out as one write: the session's loop
            // takes one message from this task for each packet of input it
            // reads, so one answer a message would fall behind.
            while let Some(first) = answers.recv().await {
                let (mut batch, mut status) = (Vec::new(), None);
                let mut next = Some(first);
                while let Some(a) = next.take() {
                    match a {
                        Ok(line) => batch.extend_from_slice(&line),
                        Err(s) => {
                            status = Some(s);
                            break;
                        }
                    }
                    if batch.len() < 64 * 1024 {
                        next = answers.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    let len = batch.len();
                    let sent = handle.data(channel, batch).await.is_ok();
                    queued.fetch_sub(len, Ordering::SeqCst);
                    if !sent {
                        return;
                    }
                }
                if let Some(status) = status {
                    finish(&handle, channel, status).await;
                    return;
                }
            }
        })
    };
    let push = |line: Vec<u8>| -> bool {
        let total = queued.fetch_add(line.len(), Ordering::SeqCst) + line.len();
        out.send(Ok(line)).is_ok() && total <= MAX_BACKLOG
    };
    let mut pending: VecDeque<tokio::task::JoinHandle<(Vec<u8>, bool)>> = VecDeque::new();
    let (mut all_ok, mut n, mut flooded) = (true, 0usize, false);
    let answer = |j: Result<(Vec<u8>, bool), tokio::task::JoinError>| match j {
        Ok(x) => x,
        Err(_) => (error_line("internal", "the check failed"), false),
    };
    'input: while let Some(line) = lines.recv().await {
        n += 1;
        pending.push_back(match line {
            Piece::Line(line) => {
                tokio::spawn(accept_line(Arc::clone(&srv), peer, recipient.clone(), line))
            }
            Piece::TooLarge => tokio::spawn(async {
                (
                    error_line(
                        "line_too_large",
                        &format!("an envelope line is limited to {MAX_REQUEST} bytes"),
                    ),
                    false,
                )
            }),
        });
        while pending.len() >= IN_FLIGHT {
            if let Some(front) = pending.pop_front() {
                let (line, ok) = answer(front.await);
                all_ok &= ok;
                if !push(line) {
                    flooded = true;
                    break 'input;
                }
            }
        }
    }
    if flooded {
        // The client does not read: take no more input, and answer no
        // more. Envelopes already being checked finish on their own; a
        // stored one is found again by its id when it is sent anew. The
        // channel keeps its place until the connection ends.
        drop(lines);
        let _ = writer.await;
        return;
    }
    while let Some(front) = pending.pop_front() {
        let (line, ok) = answer(front.await);
        all_ok &= ok;
        let _ = push(line);
    }
    if n == 0 {
        all_ok = false;
        let _ = push(error_line("no_message", "standard input held no envelope"));
    }
    let _ = out.send(Err(u32::from(!all_ok)));
    let _ = writer.await;
}

/// Runs `bangmail-fetch`: every message, page by page, as JSON lines.
async fn fetch(
    srv: Arc<SshServer>,
    handle: Handle,
    channel: ChannelId,
    recipient: Address,
    read_once: Option<Written>,
) {
    let mut after = None;
    let mut ids = Vec::new();
    loop {
        let store = Arc::clone(&srv.state.store);
        let who = recipient.to_string();
        let page = tokio::task::spawn_blocking(move || {
            store.list(
                &who,
                ank_common::now_ms(),
                after,
                1000,
                ank_mailbox::store::MAX_PAGE_BYTES,
            )
        })
        .await;
        let Ok(Ok(page)) = page else {
            let _ = handle
                .extended_data(
                    channel,
                    1,
                    error_line("internal", "the mailbox could not be read"),
                )
                .await;
            finish(&handle, channel, 1).await;
            return;
        };
        for (id, mut json) in page.messages {
            json.push(b'\n');
            if handle.data(channel, json).await.is_err() {
                return;
            }
            ids.push(id);
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    // Marked for deletion only now that all of them were handed to the
    // session; deleted if the session then ends cleanly.
    if let Some(slot) = read_once
        && let Ok(mut g) = slot.lock()
    {
        *g = Some(ids);
    }
    finish(&handle, channel, 0).await;
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_succeeded(&mut self, _session: &mut Session) -> Result<(), Self::Error> {
        self.authed.send_replace(true);
        Ok(())
    }

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        // A name with a binding must prove its key; any other is anonymous.
        if let Some(a) = self.srv.address(user)
            && self.srv.current_keys(&a).await.is_some()
        {
            let mut m = MethodSet::empty();
            m.push(MethodKind::PublicKey);
            return Ok(Auth::Reject {
                proceed_with_methods: Some(m),
                partial_success: false,
            });
        }
        Ok(Auth::Accept)
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(if self.key_is_current(user, offer.public_key).await {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.key_is_current(user, key.public_key).await
            && let (Some(a), Some(ed)) = (
                self.srv.address(user),
                crate::keys::ed25519_of(key.public_key),
            )
        {
            self.user = Some((a, ed));
            return Ok(Auth::Accept);
        }
        Ok(Auth::reject())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Dropping the handle refuses the channel.
        let Some(live) = Live::take(&self.live) else {
            return Ok(());
        };
        self.chans.insert(channel.id(), Chan::Open(live));
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The channel's command holds its place until it ends.
        let live = match self.chans.remove(&channel) {
            Some(Chan::Open(live)) => live,
            other => {
                if let Some(c) = other {
                    self.chans.insert(channel, c);
                }
                return session.channel_failure(channel);
            }
        };
        session.channel_success(channel)?;
        let handle = session.handle();
        let fail = |code: &str, message: &str| {
            let (handle, line) = (handle.clone(), error_line(code, message));
            tokio::spawn(async move {
                let _ = handle.extended_data(channel, 1, line).await;
                finish(&handle, channel, 1).await;
            });
        };
        let command = match parse_command(&String::from_utf8_lossy(data)) {
            Ok(c) => c,
            Err(usage) => {
                fail("unknown_command", &usage);
                return Ok(());
            }
        };
        // Reading and deleting: the authenticated user's own mail, with a
        // key the log still proves current (a session outlives a rotation
        // or a revocation by at most this command).
        if let Command::Fetch { user, .. } | Command::Ack { user, .. } = &command {
            let own = match (&self.user, self.srv.address(user)) {
                (Some((a, key)), Some(asked)) if *a == asked => self
                    .srv
                    .current_keys(a)
                    .await
                    .is_some_and(|keys| keys.contains(key)),
                _ => false,
            };
            if !own {
                fail(
                    "not_authenticated",
                    &format!(
                        "reading or deleting the mail of {user} needs public-key authentication as {user}, with a key its log proves current"
                    ),
                );
                return Ok(());
            }
        }
        // The mailbox a fetch or an acknowledgement acts on: the one just
        // checked.
        let owner = self.user.as_ref().map(|(a, _)| a.clone());
        let srv = Arc::clone(&self.srv);
        match (command, owner) {
            (Command::Receive(user), _) => {
                let Some(recipient) = srv.address(&user) else {
                    fail(
                        "wrong_recipient",
                        &format!("{user:?} is not an address of {}", srv.domain),
                    );
                    return Ok(());
                };
                let (tx, rx) = tokio::sync::mpsc::channel(256);
                let peer = self.peer.map(|p| p.ip());
                tokio::spawn(async move {
                    receive(srv, peer, handle, channel, recipient, rx).await;
                    drop(live);
                });
                self.chans.insert(
                    channel,
                    Chan::Receive {
                        lines: tx,
                        splitter: Splitter::new(MAX_REQUEST),
                        bytes: 0,
                    },
                );
            }
            (Command::Fetch { read_once, .. }, Some(recipient)) => {
                let slot = read_once.then(|| Arc::new(Mutex::new(None)));
                if let (Some(slot), Ok(mut all)) = (&slot, self.read_once.lock()) {
                    all.push((recipient.clone(), Arc::clone(slot)));
                }
                tokio::spawn(async move {
                    fetch(srv, handle, channel, recipient, slot).await;
                    drop(live);
                });
            }
            (Command::Ack { ids, .. }, Some(recipient)) => {
                let Some(ids) = ids
                    .iter()
                    .map(|i| ank_proofs::hash::b64_array::<16>(i))
                    .collect::<Option<Vec<_>>>()
                else {
                    fail("bad_id", "message ids are base64 of 16 bytes");
                    return Ok(());
                };
                tokio::spawn(async move {
                    let _live = live;
                    let store = Arc::clone(&srv.state.store);
                    let who = recipient.to_string();
                    let r = tokio::task::spawn_blocking(move || store.ack(&who, &ids)).await;
                    match r {
                        Ok(Ok(n)) => {
                            let line = format!("{{\"deleted\":{n}}}\n");
                            let _ = handle.data(channel, line.into_bytes()).await;
                            finish(&handle, channel, 0).await;
                        }
                        _ => {
                            let _ = handle
                                .extended_data(channel, 1, error_line("internal", "not deleted"))
                                .await;
                            finish(&handle, channel, 1).await;
                        }
                    }
                });
            }
            // Refused above: no authenticated owner.
            (Command::Fetch { .. } | Command::Ack { .. }, None) => {}
        }
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let max = self.srv.settings.max_stdin;
        let Some(Chan::Receive {
            lines,
            splitter,
            bytes,
        }) = self.chans.get_mut(&channel)
        else {
            return Ok(());
        };
        *bytes += data.len() as u64;
        if *bytes > max {
            let line = error_line(
                "line_too_large",
                &format!("standard input is limited to {max} bytes a session"),
            );
            session.extended_data(channel, 1, line)?;
            return Err(russh::Error::Disconnect);
        }
        for piece in splitter.push(data) {
            // Waiting here holds the client back while 64 lines are checked.
            if lines.send(piece).await.is_err() {
                // The receive task stopped taking input: its answers were
                // left unread past the cap. The connection ends here.
                return Err(russh::Error::Disconnect);
            }
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Closed by the client: a channel still waiting for its command, or
        // still taking input, gives its place back; a running command keeps
        // it until it ends.
        self.chans.remove(&channel);
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if !matches!(self.chans.get(&channel), Some(Chan::Receive { .. })) {
            return Ok(());
        }
        if let Some(Chan::Receive {
            lines, splitter, ..
        }) = self.chans.remove(&channel)
        {
            if let Some(last) = splitter.finish() {
                let _ = lines.send(last).await;
            }
            // Dropping the sender ends the receive task's input.
            drop(lines);
        }
        Ok(())
    }
}

impl Conn {
    async fn key_is_current(&self, user: &str, key: &russh::keys::PublicKey) -> bool {
        let (Some(address), Some(ed)) = (self.srv.address(user), crate::keys::ed25519_of(key))
        else {
            return false;
        };
        self.srv
            .current_keys(&address)
            .await
            .is_some_and(|keys| keys.contains(&ed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_strictly() {
        assert_eq!(
            parse_command("bangmail-receive alice"),
            Ok(Command::Receive("alice".into()))
        );
        assert_eq!(
            parse_command("bangmail-fetch --read-once alice"),
            Ok(Command::Fetch {
                user: "alice".into(),
                read_once: true
            })
        );
        assert_eq!(
            parse_command("bangmail-ack alice AAAA BBBB"),
            Ok(Command::Ack {
                user: "alice".into(),
                ids: vec!["AAAA".into(), "BBBB".into()]
            })
        );
        for bad in [
            "",
            "sh",
            "bangmail-ack alice",
            "bangmail-fetch",
            "bangmail-fetch -x alice",
            "bangmail-receive alice bob",
        ] {
            assert!(parse_command(bad).is_err(), "{bad:?}");
        }
    }
}
