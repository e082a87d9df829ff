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
from dataclasses import dataclass

from federation.ports import PeerKey
from federation.service import FederationService
from node.clock import Clock, system_clock
from node.config import NodeConfig
from node.federation_adapter.direct_inbox import DirectInbox
from node.federation_adapter.store import NodeFederationStore
from node.jobs import HOUR_S, Job, Jobs
from node.keyfile import NodeKey
from node.metrics import NodeMetrics
from node.records.publisher import OutboxPeers, Publisher
from node.reference.data import Reference, load_reference
from node.search.documents import SearchDocuments
from node.services.accounts import Accounts, PasswordHasher, ThrottlePolicy
from node.services.direct import DirectSender
from node.services.directory import Directory
from node.services.finder import Finder
from node.services.governance import NodeGovernance, load_charter
from node.services.identity import Identity
from node.services.member_path import MemberPaths
from node.services.messages import Messages
from node.services.moving import Moving
from node.services.onboarding import Onboarding
from node.services.onboarding_bundle import Bundles
from node.services.remote_events import RemoteEvents
from node.services.saved_searches import SavedSearches
from node.services.status import NodeStatus
from node.services.things import Things
from node.storage.database import Database
from node.storage.outbox import direct_peer_names_sync
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
    finder: Finder
    saved_searches: SavedSearches
    member_paths: MemberPaths
    onboarding: Onboarding
    bundles: Bundles
    moving: Moving
    remote_events: RemoteEvents
    messages: Messages
    status: NodeStatus
    federation: FederationService
    federation_store: NodeFederationStore
    governance: NodeGovernance
    jobs: Jobs
    metrics: NodeMetrics
    started: bool = False

    @property
    def key(self) -> SigningKey:
        """The key the node signs with now (a rotation replaces it in :attr:`signing`)."""
        return self.signing()

    async def start(self) -> None:
        """Publish the node document if it changed, then start federation and the jobs."""
        await self.identity.ensure_document()
        await self.moving.resend_legacy()  # moves caught by the upgrade to typed direct records (release 1.1)
        await self.federation.start()
        self.jobs.start()
        self.started = True

    async def stop(self) -> None:
        if self.started:
            await self.jobs.stop()
            await self.federation.stop()
            self.started = False

    async def close(self) -> None:
        await self.stop()
        await self.db.close()


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
    federation: FederationService | None = None

    def wake() -> None:
        """Wake the delivery loops after a commit that queued outbox rows (nothing to wake before start)."""
        if federation is not None:
            federation.notify()

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
    things = Things(db, publisher, reference, clock, coop_name=config.display_name)
    directory = Directory(db, publisher, reference, clock, accounts, things)
    finder = Finder(db, name, reference)
    identity = Identity(config, signing, db, publisher, clock)
    direct = DirectSender(name, signing, clock, wake)  # every direct record this node sends goes through it
    onboarding = Onboarding(db, name=name, clock=clock, reference=reference, direct=direct)
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
        db, name=name, clock=clock, things=things, direct=direct, coop_name=config.display_name
    )
    messages = Messages(db, name=name, direct=direct)
    saved_searches = SavedSearches(db, finder, clock)

    # received direct records, by type: adding a direct type = its schema in protocol/records.py + a line here
    inbox = DirectInbox()
    inbox.register("message", messages.receive)
    inbox.register("member_move", lambda record, _at: moving.receive_request(record))
    inbox.register("member_move_acceptance", lambda record, _at: moving.receive_acceptance(record))
    inbox.register("case_share", lambda record, _at: onboarding.receive_share(record))
    inbox.register("case_withdrawal", lambda record, _at: onboarding.receive_withdrawal(record))
    inbox.register("event_registration", lambda record, _at: remote_events.receive_request(record))
    inbox.register("event_registration_answer", lambda record, _at: remote_events.receive_answer(record))
    store = NodeFederationStore(db, name, clock, search_documents)
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
        pull_fanout=config.pull_fanout,
        charter=load_charter(config.directory),
        own_keys=lambda: [
            PeerKey(k["public_key"], k.get("not_before", 0), k.get("not_after"), k.get("revoked_at"))
            for k in identity.document_keys()
        ],
    )
    identity.on_keys_changed = federation.reload_peers  # the trust store learns this node's own new keys
    governance = NodeGovernance(db, publisher, federation.governance, name=name, clock=clock, wake=wake)
    federation.proposer = governance
    jobs = Jobs(
        [
            Job("saved searches", config.saved_search_seconds, saved_searches.run_due),
            Job("expired onboarding cases", HOUR_S, onboarding.purge_expired),
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
        finder=finder,
        saved_searches=saved_searches,
        member_paths=MemberPaths(db, clock, directory),
        onboarding=onboarding,
        bundles=Bundles(db, identity, onboarding, clock),
        moving=moving,
        remote_events=remote_events,
        messages=messages,
        status=NodeStatus(db, name),
        federation=federation,
        federation_store=store,
        governance=governance,
        jobs=jobs,
        metrics=NodeMetrics(name),
    )
