import Wire

/// The life of one call, as pure values: one half per side (``Client`` and ``Server``, in the `+Client` and
/// `+Server` files), each taking events (frames received, local events, the time where it matters) and returning
/// the actions the connection must carry out. No I/O, no clock, no NIO channel types: the connection handlers own
/// those and do what the actions say.
///
/// The states are those of `docs/PROTOCOL.md` §9.3, seen from one side:
///
/// ```text
///                 CALL_START sent / received
///     idle ─────────────────────────────────────▶ open
///                                                  │ END_STREAM or HALF_CLOSE from the client
///                                                  ▼
///                                          half-closed (client)
///     open / half-closed ── CALL_END, CANCEL (sent or received), stream error,
///                           the deadline, or the connection ending ──▶ closed
/// ```
///
/// A stream ends exactly once: whichever end comes first on a side decides the outcome there, and every later
/// event is dropped. The server's handler task may outlive that end (winding down, or a straggler), so the server
/// half also tracks the handler beside the §9.3 state.
///
/// What an event that does not fit the state means, in two kinds (as swift-nio-http2 and grpc-swift-2 tell them
/// apart): a **late frame** from the peer — a frame for a stream that has already ended here, legitimately in flight
/// when it ended — is dropped quietly and counted; **our own bug** — the runtime feeding an event its own state rules
/// out, such as a handler finishing twice — traps in debug builds (an `assertionFailure`) and is ignored in release,
/// where dropping it is the safe choice. A peer breaking the protocol is neither: the connection handler checks
/// stream ids and roles before a frame reaches a machine, and answers with `GOAWAY`.
enum CallStateMachine {}
