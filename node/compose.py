"""The composition root: the one place that builds a node's parts, each once, and hands each only what it needs.

:func:`open_node` opens the database (migrated), loads the key and the reference data, and builds every service,
the federation (its store, its inbox routing and its service) and the periodic jobs, into a :class:`Node`. The
HTTP application (:mod:`node.app`), the CLI and the demo all start from here; handlers reach the services
through the node, services never reach the node. :meth:`Node.start` starts what runs in the background (the
federation's sync and delivery, the jobs); a CLI command that only reads or writes the database never starts
them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from federation.ports import PeerKey
from federation.service import FederationService
from node.clock import Clock, system_clock
from node.config import RUNNING_MARKER, NodeConfig
from node.errors import ConfigError
from node.federation_adapter.direct_inbox import DirectInbox
from node.federation_adapter.nonces import SharedNonces
from node.federation_adapter.store import NodeFederationStore
from node.jobs import HOUR_S, Job, Jobs
from node.keyfile import NodeKey
from node.metrics import NodeMetrics
from node.records.publisher import OutboxPeers, Publisher
from node.reference.data import Reference, load_reference
from node.search.documents import SearchDocuments
from node.services.accounts import Accounts, ThrottlePolicy
from node.services.bookings import Bookings
from node.services.coop_sign_in import CoopSignIn
from node.services.direct import DirectSender
from node.services.directory import Directory
from node.services.erasures import Erasures
from node.services.feeds import Feeds
from node.services.finder import Finder
from node.services.governance import NodeGovernance, load_charter
from node.services.identity import Identity
from node.services.invitations import Invitations
from node.services.mail_queue import MailPolicy, MailQueue, SmtpSettings
from node.services.mail_text import Letterhead
from node.services.member_path import MemberPaths
from node.services.mentoring import Mentorships
from node.services.messages import Messages
from node.services.moving import Moving
from node.services.notifications import Notifications
from node.services.onboarding import Onboarding
from node.services.onboarding_bundle import Bundles
from node.services.password_changes import Passwords
from node.services.passwords import PasswordHasher
from node.services.rate_limits import RateLimits
from node.services.remote_events import RemoteEvents
from node.services.saved_searches import SavedSearches
from node.services.schools import SchoolRequests
from node.services.status import NodeStatus
from node.services.things import Things
from node.services.users import Users
from node.storage.coordination import Coordinator, asyncpg_dsn
from node.storage.database import Database
from node.storage.outbox import direct_peer_names_sync
from node.storage.purge import PURGE_SECONDS, DiskPurge
from protocol import SigningKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What tests and benchmarks may change about how a node is assembled."""

    clock: Clock = system_clock
    hasher: PasswordHasher | None = None
    throttle: ThrottlePolicy | None = None
    reference: Reference | None = None
    #: the peers every new entry is queued for (default: the direct member peers, read in the transaction)
    outbox_peers: OutboxPeers | None = None
    #: how failed mails are retried (tests shorten the waits)
    mail_policy: MailPolicy | None = None
    #: a CA file the SMTP client trusts instead of the system's (tests with their own certificate)
    smtp_ca_file: str | None = None


@dataclass(slots=True)
class Node:
    """Every part of one running node, built once by :func:`open_node`."""

    config: NodeConfig
    clock: Clock
    signing: NodeKey
    db: Database
    publisher: Publisher
    reference: Reference
    search_documents: SearchDocuments
    identity: Identity
    accounts: Accounts
    things: Things
    directory: Directory
    erasures: Erasures
    finder: Finder
    saved_searches: SavedSearches
    member_paths: MemberPaths
    onboarding: Onboarding
    bundles: Bundles
    moving: Moving
    remote_events: RemoteEvents
    bookings: Bookings
    feeds: Feeds
    messages: Messages
    mentorships: Mentorships
    schools: SchoolRequests
    status: NodeStatus
    federation: FederationService
    federation_store: NodeFederationStore
    governance: NodeGovernance
    jobs: Jobs  # run once per node: in the leading worker
    local_jobs: Jobs  # run in every worker: what a worker's own requests left to do
    metrics: NodeMetrics
    waker: Waker
    mail: MailQueue
    invitations: Invitations
    passwords: Passwords
    notifications: Notifications
    # accounts administration and abuse limits (issue 15)
    users: Users
    rate_limits: RateLimits
    coop_sign_in: CoopSignIn | None  # sign-in with the coop's identity provider, when node.json configures one
    started: bool = False
    #: the node has checked its own log with its peers and published what it publishes at start: it signs now
    own_log_checked: bool = False

    @property
    def key(self) -> SigningKey:
        """The key the node signs with now (a rotation replaces it in :attr:`signing`)."""
        return self.signing()

    def wake(self) -> None:
        """A commit queued outbox rows: deliver them now (see :class:`Waker`)."""
        self.waker()

    async def start(self, *, lead: bool = True) -> None:
        """Start the federation (its routes need its state); with ``lead``, also what runs once per node (see
        :meth:`lead`). A worker among several starts without it and leads only when it holds the node's lock.

        Nothing is signed before the node knows it holds all of its own log (its peers said how much of it they
        hold: :mod:`federation.recovery`). The folder's running marker says whether the last run stopped cleanly:
        if it is still there (a crash, a power loss, or a folder restored from a backup, which ``bigre restore``
        marks so), the node may have lost entries it had published, and takes back from its peers what they hold
        of it; after a clean stop it never does (such entries were signed elsewhere with its key)."""
        marker = self.config.directory / RUNNING_MARKER
        unclean = marker.exists()
        marker.touch(mode=0o600)
        self.federation.own_log.may_take_back = unclean
        if unclean:
            log.warning("the last run of this node did not stop cleanly, or it was restored from a backup")
        await self.federation.start(lead=False)
        self.local_jobs.start()
        self.started = True
        if lead:
            await self.lead()
        else:  # a worker that does not lead: its gate opens once the peers showed nothing more of ours
            self.federation.spawn(self._own_log_checked_here())

    async def lead(self) -> None:
        """Run the federation's loops and the jobs; publish the node document if it changed once the own log is
        checked."""
        await self.mail.recover()  # mails a stop caught mid-sending: set aside, never sent twice
        await self.federation.lead()
        self.jobs.start()
        if self.federation.own_log.ready:
            await self._publish_at_start()
        else:
            self.federation.spawn(self._publish_when_own_log_checked())

    async def _own_log_checked_here(self) -> None:
        await self.federation.own_log.wait_ready()
        self.own_log_checked = True

    async def _publish_at_start(self) -> None:
        try:
            await self.identity.ensure_document()
            await self.moving.resend_legacy()  # moves caught by the upgrade to typed direct records (release 1.1)
        finally:
            self.own_log_checked = True

    async def _publish_when_own_log_checked(self) -> None:
        await self.federation.own_log.wait_ready()
        try:
            await self._publish_at_start()
        except Exception:
            log.exception("publishing the node document at start failed")

    async def stop(self) -> None:
        if self.started:
            await self.jobs.stop()
            await self.local_jobs.stop()
            await self.federation.stop()
            self.started = False
            (self.config.directory / RUNNING_MARKER).unlink(missing_ok=True)  # a clean stop

    async def close(self) -> None:
        await self.stop()
        await self.db.close()


class Waker:
    """Wakes the delivery loops after a commit that queued outbox rows. In one process, they run here; with
    several workers, only the leader runs them, so a follower also tells the others (``others``, set by the
    worker's coordination)."""

    def __init__(self) -> None:
        self.federation: FederationService | None = None  # nothing to wake before the federation exists
        self.others: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.federation is None:
            return
        self.federation.notify()
        if self.others is not None and not self.federation.leading:
            self.others()


async def join_workers(node: Node, on_lost: Callable[[], None]) -> Coordinator:
    """Make ``node`` one worker among several on its PostgreSQL database: the shared replay guard, wake-ups and
    reloads through the database, and the leadership campaign (the loops start in the worker that wins it).
    Started before the port opens; :meth:`Coordinator.close` before :meth:`Node.close`."""
    if node.db.dialect != "postgresql":
        raise ConfigError(
            "several workers need a PostgreSQL database (SQLite has one writer): "
            "set database in node.json to a postgresql:// URL, or serve without --workers"
        )
    node.federation.replay = SharedNonces(node.db)
    node.publisher.on_others_wrote = node.identity.follow_document_sync

    async def follow() -> None:
        await node.identity.follow_document()  # a rotation by another worker: sign requests with the new key
        await node.federation.follow()

    coordinator = Coordinator(
        node.config.name,
        asyncpg_dsn(node.db.engine.url),
        on_lead=node.lead,
        on_wake=node.federation.notify,
        on_reload=follow,
        on_lost=on_lost,
    )
    node.waker.others = lambda: coordinator.announce("wake")

    async def announce_reload() -> None:
        coordinator.announce("reload")

    node.federation.on_shared_state_changed = announce_reload
    await coordinator.start()
    return coordinator


async def open_node(config: NodeConfig, options: NodeOptions = NodeOptions()) -> Node:
    """Open the database (migrated), load the key, build every part. Close with :meth:`Node.close`."""
    signing = NodeKey(config.signing_key())
    db = Database.open(config.database)
    try:
        await db.migrate()
        return await _assemble(config, options, signing, db)
    except BaseException:
        await db.close()
        raise


async def _assemble(config: NodeConfig, options: NodeOptions, signing: NodeKey, db: Database) -> Node:
    clock, name = options.clock, config.name
    wake = Waker()
    reference = options.reference or load_reference(config.trades_path)
    search_documents = SearchDocuments(reference.trades)  # own and received records, with the same trade words
    publisher = Publisher(
        name,
        signing,
        clock,
        search_documents,
        options.outbox_peers or (lambda session: direct_peer_names_sync(session, name)),
    )
    async with db.write() as session:
        await publisher.ensure_head(session)
    accounts = Accounts(db, clock, hasher=options.hasher, throttle=options.throttle)
    # ---- outgoing e-mail: the queue, and the services that write to members
    smtp = SmtpSettings(
        host=config.smtp_host,
        port=config.smtp_port,
        security=config.smtp_security,
        username=config.smtp_username,
        password=config.smtp_password,
        ca_file=options.smtp_ca_file,
    )
    mail = MailQueue(db, clock, smtp, options.mail_policy)
    letterhead = Letterhead(config.display_name, config.sender_address, config.url, config.timezone)
    notifications = Notifications(db, clock, mail, letterhead)
    await notifications.prepare()
    invitations = Invitations(db, clock, accounts, mail, letterhead)
    passwords = Passwords(db, clock, accounts, mail, letterhead)
    things = Things(db, publisher, reference, clock, coop_name=config.display_name, notifications=notifications)
    purge = DiskPurge(db)  # erased text leaves the database's files (issue 12.5)
    direct = DirectSender(name, signing, clock, wake)  # every direct record this node sends goes through it
    erasures = Erasures(db, name=name, clock=clock, direct=direct)
    directory = Directory(db, publisher, reference, clock, accounts, things, erasures, on_erased=purge.request)
    finder = Finder(db, name, reference)
    identity = Identity(config, signing, db, publisher, clock)
    onboarding = Onboarding(db, name=name, clock=clock, reference=reference, direct=direct, notifications=notifications)
    moving = Moving(
        db,
        name=name,
        clock=clock,
        accounts=accounts,
        things=things,
        directory=directory,
        publisher=publisher,
        direct=direct,
    )
    remote_events = RemoteEvents(
        db,
        name=name,
        clock=clock,
        things=things,
        direct=direct,
        coop_name=config.display_name,
        notifications=notifications,
    )
    messages = Messages(db, name=name, direct=direct, notifications=notifications)
    bookings = Bookings(  # shared spaces and machines
        db,
        name=name,
        clock=clock,
        publisher=publisher,
        reference=reference,
        direct=direct,
        coop_name=config.display_name,
    )
    mentorships = Mentorships(db, name=name, clock=clock, publisher=publisher, things=things, direct=direct)
    # the schools' form signs its time tokens with a secret drawn at start (a restart only asks to fill it again)
    schools = SchoolRequests(db, name=name, clock=clock, things=things, secret=secrets.token_bytes(32))
    saved_searches = SavedSearches(db, finder, clock, notifications)

    # received direct records, by type: adding a direct type = its schema in protocol/records.py + a line here
    inbox = DirectInbox()
    inbox.register("message", messages.receive)
    inbox.register("member_move", lambda record, _at: moving.receive_request(record))
    inbox.register("member_move_acceptance", lambda record, _at: moving.receive_acceptance(record))
    inbox.register("case_share", lambda record, _at: onboarding.receive_share(record))
    inbox.register("case_withdrawal", lambda record, _at: onboarding.receive_withdrawal(record))
    inbox.register("event_registration", lambda record, _at: remote_events.receive_request(record))
    inbox.register("event_registration_answer", lambda record, _at: remote_events.receive_answer(record))
    inbox.register("erasure_receipt", erasures.receive)
    inbox.register("booking_request", lambda record, _at: bookings.receive_request(record))
    inbox.register("booking_answer", lambda record, _at: bookings.receive_answer(record))
    # mentoring programmes (issue 16): pairs, answers and check-ins between the pair's nodes only
    inbox.register("mentoring_pair", lambda record, _at: mentorships.receive_pair(record))
    inbox.register("mentoring_pair_answer", lambda record, _at: mentorships.receive_answer(record))
    inbox.register("mentoring_checkin", lambda record, _at: mentorships.receive_checkin(record))
    store = NodeFederationStore(db, name, clock, search_documents)
    store.on_erased_sync = erasures.receipts_sync  # a receipt to the origin, in the transaction that erased

    def after_erased() -> None:
        purge.request()
        direct.wake()

    store.after_erased = after_erased
    store.after_stored = things.notice_received_answers  # answers of other coops' members to our help requests
    federation = FederationService(
        name=name,
        key=signing,
        log_store=store,
        peers=store,
        outbox=store,
        inbox=inbox,
        invitations=store,
        documents=store,
        clock=clock,
        anti_entropy_seconds=config.anti_entropy_seconds,
        own_log_wait_seconds=config.own_log_wait_seconds,
        pull_fanout=config.pull_fanout,
        charter=load_charter(config.directory),
        own_keys=lambda: [
            PeerKey(k["public_key"], k.get("not_before", 0), k.get("not_after"), k.get("revoked_at"))
            for k in identity.document_keys()
        ],
    )
    wake.federation = federation
    # operators are told by mail of each proposal open to their vote (once each: proposals replay at start)
    federation.governance.on_open_proposal = lambda case: notifications.decision_to_vote(
        case.ref, str(case.body.get("subject", "")), int(case.body.get("deadline", 0))
    )
    identity.on_keys_changed = federation.reload_peers  # the trust store learns this node's own new keys
    publisher.may_sign = federation.own_log.blocked  # never sign while a peer may hold more of our own log
    governance = NodeGovernance(db, publisher, federation.governance, name=name, clock=clock, wake=wake)
    federation.proposer = governance
    jobs = Jobs(
        [
            Job("saved searches", config.saved_search_seconds, saved_searches.run_due),
            Job("expired onboarding cases", HOUR_S, onboarding.purge_expired),
            Job("mail queue", config.mail_seconds, mail.run_due),
            Job("mail digests", HOUR_S / 4, notifications.run_digests),
            Job("mentoring reminders", HOUR_S, mentorships.remind_due),
        ]
    )
    return Node(
        config=config,
        clock=clock,
        signing=signing,
        db=db,
        publisher=publisher,
        reference=reference,
        search_documents=search_documents,
        identity=identity,
        accounts=accounts,
        things=things,
        directory=directory,
        erasures=erasures,
        finder=finder,
        saved_searches=saved_searches,
        member_paths=MemberPaths(db, clock, directory),
        onboarding=onboarding,
        bundles=Bundles(db, identity, onboarding, clock),
        moving=moving,
        remote_events=remote_events,
        bookings=bookings,
        feeds=Feeds(
            db,
            name=name,
            url=config.url,
            clock=clock,
            tz=ZoneInfo(config.timezone),
            things=things,
            bookings=bookings,
            coop_name=config.display_name,
        ),
        messages=messages,
        mentorships=mentorships,
        schools=schools,
        status=NodeStatus(db, name),
        users=Users(db, clock, accounts, directory),
        rate_limits=RateLimits(config.rate_limits),
        coop_sign_in=(
            CoopSignIn(config.oidc, f"{config.url}/login/oidc/callback", accounts) if config.oidc is not None else None
        ),
        federation=federation,
        federation_store=store,
        governance=governance,
        jobs=jobs,
        # the erasure purge is asked for by the worker that erased (or applied a received erasure)
        local_jobs=Jobs([Job("erasure purge", PURGE_SECONDS, purge.run_if_pending)]),
        metrics=NodeMetrics(name),
        waker=wake,
        mail=mail,
        invitations=invitations,
        passwords=passwords,
        notifications=notifications,
    )
