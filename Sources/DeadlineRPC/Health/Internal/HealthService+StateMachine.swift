extension HealthService {
    /// The statuses and their watchers, as a value: no locks, tasks or I/O (``HealthService`` holds it under a
    /// mutex, keeps the watchers' continuations beside it, and resumes them after the lock is released).
    ///
    /// A watcher's life, driven by its Watch handler:
    ///
    /// ```
    ///  addWatcher ──► writing ──watcherWrote──► .send(new)  (status changed meanwhile: stays writing)
    ///                   ▲                 ├───► .wait       (waiting: a change resumes it with the new status)
    ///                   │                 └───► .finish     (shut down and caught up: the handler returns)
    ///                   └──── resumed by setStatus / shutDown ◄── waiting
    /// ```
    ///
    /// A watcher holds no queue: what it last wrote and the service's current status are all there is, so a slow
    /// watcher costs the same as a fast one and, once its write returns, sends only the latest status (coalesced).
    ///
    /// Shutdown is terminal: every registered status turns `NOT_SERVING`, later changes are ignored, every watcher
    /// writes its final status and ends. The shutdown is *announced* once no watcher has an older status left to
    /// write; the server sends its GOAWAYs then.
    struct StateMachine {
        /// Names a watcher (one per Watch call).
        typealias WatcherID = UInt64

        /// What a watcher does after a write.
        enum OnWatcherWrote: Hashable {
            /// The status changed while it wrote: write this one.
            case send(ServingStatus)
            /// Wait for the next change.
            case wait
            /// The service is shut down and the watcher has written its final status: end the Watch call.
            case finish
        }

        /// A waiting watcher to resume: with the status to write, or nil to end its Watch call.
        struct Resume: Hashable {
            var watcher: WatcherID
            var status: ServingStatus?
        }

        private struct Watcher {
            let service: String
            /// The status it last wrote (nil before its first write returned).
            var written: ServingStatus? = nil
            /// Between being handed a status and reporting it written.
            var writing = true
            /// Parked until the next change.
            var waiting = false
        }

        /// grpc's default: the server as a whole (`""`) is serving from the start.
        private var statuses: [String: ServingStatus] = ["": .serving]
        private var watchers: [WatcherID: Watcher] = [:]
        private var nextWatcherID: WatcherID = 0
        /// Set once by ``shutDown()``; never cleared.
        private(set) var isShutDown = false
        /// Shut down, but some watcher still has an older status than its final one to write.
        private var announcementPending = false
        /// While the announcement is pending: the watchers that have not yet written their final status.
        private var unannounced: Set<WatcherID> = []

        init() {}

        /// Shut down and every watcher told: the moment the server's GOAWAYs may go.
        var isAnnounced: Bool { self.isShutDown && !self.announcementPending }

        /// How many Watch calls are open (diagnostics and tests).
        var watcherCount: Int { self.watchers.count }

        /// The status a Check reports; nil when no status is registered for the name.
        func status(forService service: String) -> ServingStatus? {
            self.statuses[service]
        }

        /// Every service name with a status.
        var allStatuses: [String: ServingStatus] { self.statuses }

        /// The status a Watch reports: `SERVICE_UNKNOWN` when no status is registered for the name.
        func watchStatus(forService service: String) -> ServingStatus {
            self.statuses[service] ?? .serviceUnknown
        }

        /// Registers `status` for `service` (nil or `SERVICE_UNKNOWN` removes it); ignored once shut down. Returns
        /// the waiting watchers of that service to resume with its new status (none if it did not change).
        mutating func setStatus(_ status: ServingStatus?, forService service: String) -> [Resume] {
            guard !self.isShutDown else { return [] }
            let before = self.watchStatus(forService: service)
            if let status, status != .serviceUnknown {
                self.statuses[service] = status
            } else {
                self.statuses.removeValue(forKey: service)
            }
            let after = self.watchStatus(forService: service)
            guard after != before else { return [] }
            var resumes: [Resume] = []
            for (id, watcher) in self.watchers where watcher.waiting && watcher.service == service {
                self.watchers[id]!.waiting = false
                self.watchers[id]!.writing = true
                resumes.append(Resume(watcher: id, status: after))
            }
            return resumes
        }

        /// A Watch call begins: returns its watcher and the status it writes first.
        mutating func addWatcher(service: String) -> (id: WatcherID, first: ServingStatus) {
            let id = self.nextWatcherID
            self.nextWatcherID += 1
            self.watchers[id] = Watcher(service: service)
            if self.announcementPending { self.unannounced.insert(id) }
            return (id, self.watchStatus(forService: service))
        }

        /// The watcher's write of `status` returned. `announced` is true when this completes the shutdown's
        /// announcement.
        mutating func watcherWrote(_ id: WatcherID, _ status: ServingStatus) -> (next: OnWatcherWrote, announced: Bool) {
            guard var watcher = self.watchers[id] else { return (.finish, false) }
            watcher.written = status
            let current = self.watchStatus(forService: watcher.service)
            let next: OnWatcherWrote
            if current != status {
                next = .send(current)
            } else if self.isShutDown {
                watcher.writing = false
                self.unannounced.remove(id)
                next = .finish
            } else {
                watcher.writing = false
                watcher.waiting = true
                next = .wait
            }
            self.watchers[id] = watcher
            return (next, self.completeAnnouncement())
        }

        /// The waiting watcher's call was cancelled: true if it was waiting (its continuation is to be failed).
        mutating func cancelWait(_ id: WatcherID) -> Bool {
            guard self.watchers[id]?.waiting == true else { return false }
            self.watchers[id]!.waiting = false
            return true
        }

        /// The Watch call ended (however): forgets the watcher. True when this completes the shutdown's announcement.
        mutating func removeWatcher(_ id: WatcherID) -> Bool {
            self.watchers.removeValue(forKey: id)
            self.unannounced.remove(id)
            return self.completeAnnouncement()
        }

        /// Turns every registered status `NOT_SERVING` for good. Returns the waiting watchers to resume (with their
        /// final status, or nil when theirs does not change), and whether the announcement is already complete (no
        /// watcher has anything left to write). A second call changes nothing.
        mutating func shutDown() -> (resumes: [Resume], announced: Bool) {
            guard !self.isShutDown else { return ([], false) }
            self.isShutDown = true
            self.announcementPending = true
            for service in self.statuses.keys { self.statuses[service] = .notServing }
            var resumes: [Resume] = []
            for (id, watcher) in self.watchers where watcher.waiting {
                let final = self.watchStatus(forService: watcher.service)
                self.watchers[id]!.waiting = false
                if final != watcher.written {
                    self.watchers[id]!.writing = true
                    resumes.append(Resume(watcher: id, status: final))
                } else {
                    resumes.append(Resume(watcher: id, status: nil))
                }
            }
            // Writing watchers (a change in flight, or a first status) have their final status still to write.
            for (id, watcher) in self.watchers where watcher.writing { self.unannounced.insert(id) }
            return (resumes, self.completeAnnouncement())
        }

        /// Ends the pending announcement once every watcher has written its final status; true only that once.
        private mutating func completeAnnouncement() -> Bool {
            guard self.announcementPending, self.unannounced.isEmpty else { return false }
            self.announcementPending = false
            return true
        }
    }
}
