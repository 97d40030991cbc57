"""A contact centre on the simulation clock, in this process, through the real actions.

Customers write at random times (a Poisson process, busier in the middle of the shift) with
words that the routing rules send to skill queues, some in another language (Hindi by
default). Every customer message is recorded by messaging's `do_record_inbound_message`, as
the business endpoint records a decrypted message; the real "routing" stream consumer opens
and routes the sessions; each simulated agent answers an offered conversation after a
think time (log-normal, about 20 s) with a real business message (`do_send_message`,
`deliver=False`: no Signal transport runs here, and the consumer sees the message's status
event like any other), keeps answering the customer's follow-ups and resolves the
conversation (`do_resolve_session`). Agents heartbeat (`do_record_heartbeat`); some take a
break and stop, so the sweep sets them away and returns their unanswered conversations; an
agent whose offer lapsed sets themselves available again (`do_set_agent_status`).

The clock moves in steps of 1 to 5 s. Within a step each scheduled action runs at its own
instant; at the end of the step the routing consumer catches up and `do_sweep_routing`
runs. After the span, agents finish for up to `DRAIN` and sign off; then the clock jumps
past the customers' 24-hour service windows, messaging announces the windows closed and
routing closes what is left (unanswered: abandoned). Figures come from the Session rows and
their log afterwards, so they are what the database holds.

The random choices come from `seed` alone: the same configuration and seed give the same
figures. The stream's wake-ups are off while it runs (this process runs the consumer
itself; a worker woken by the commits would route on the installation's clock, not on
this one). Sweeps and the routing consumer act on every business of the database: run it
on a development or scratch database."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import heapq
import html
import json
import math
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from parley.accounts.models import Business, PhoneNumber, StaffUser
from parley.accounts.roles import Role
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter
from parley.core.models import StreamPending
from parley.core.stream import consumers as stream_consumers
from parley.core.stream import log as stream_log
from parley.core.stream import wake
from parley.core.stream.runner import run_batch
from parley.messaging.actions import do_close_windows, do_record_inbound_message, do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Conversation
from routing import charts, index
from routing.actions.agents import do_record_heartbeat, do_set_agent_status, do_update_agent
from routing.actions.sessions import DEFAULT_QUEUE, do_resolve_session
from routing.actions.setup import do_save_queue, do_save_rule, do_save_sla_policy
from routing.actions.sweeps import do_sweep_routing
from routing.models import (
    MAX_CAPACITY,
    MIN_CAPACITY,
    Agent,
    Queue,
    RoutingRule,
    Session,
    SessionLog,
    SlaBreach,
    SlaPolicy,
)

STRATEGY_CHOICES = ("least_loaded", "round_robin")
TARGET_S = 30  # the first-response target (the "within 30 s")
DAY_S = 24 * 3600
BUCKET_S = 15 * 60  # utilisation bars
DRAIN = dt.timedelta(minutes=30)  # after the span, agents finish their conversations
STEP_S = (1.0, 5.0)
HEARTBEAT_S = 55.0  # a console's heartbeat with activity (idle after 60 s without one)
CONSUMER = "routing"
MAX_AGENTS = 5000
MAX_CONVERSATIONS = 200_000
MAX_HOURS = 24.0  # the span ends before the first service window closes
MIN_HOURS = 0.25
SHIFT_START = dt.time(8, 0)  # the shift starts at 08:00 UTC ...
DAYS_BACK = 3  # ... three days before the installation's clock, so it ends in the past
GENERAL = "general"
SIM_DOMAIN = "sim.parley.test"

# Skills: (name, queue and team label, keywords the customers use and rules look for).
SKILLS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("billing", "Billing", ("invoice", "refund", "charged")),
    ("orders", "Orders", ("parcel", "delivery", "tracking")),
    ("technical", "Technical", ("password", "login", "error")),
    ("returns", "Returns", ("return", "exchange", "damaged")),
    ("accounts", "Accounts", ("account", "address", "profile")),
    ("payments", "Payments", ("upi", "card", "payment")),
    ("loyalty", "Loyalty", ("points", "rewards", "voucher")),
    ("warranty", "Warranty", ("warranty", "repair", "guarantee")),
)


@dataclasses.dataclass(frozen=True)
class Language:
    name: str
    greeting: str  # the routing rule's keyword when the language has a queue of its own
    topic: str  # a first message about a keyword ("{kw}")
    general: tuple[str, ...]
    follow_ups: tuple[str, ...]


LANGUAGES: dict[str, Language] = {
    "en": Language(
        "English",
        "hello",
        "Hi, I have a question about my {kw}.",
        ("Hi, can you help me?", "Good morning, I need some help.", "Hi there, quick question."),
        ("Thanks. And one more thing?", "OK, when will that happen?", "Great, thank you!"),
    ),
    "hi": Language(
        "Hindi",
        "नमस्ते",
        "नमस्ते, मेरे {kw} के बारे में एक सवाल है।",
        ("नमस्ते, मुझे मदद चाहिए।", "नमस्ते, मेरा ऑर्डर अभी तक नहीं आया।", "नमस्ते, मेरे बिल में गलती है।"),
        ("धन्यवाद, एक और सवाल है।", "ठीक है, यह कब तक होगा?", "बहुत धन्यवाद!"),
    ),
    "es": Language(
        "Spanish",
        "hola",
        "Hola, tengo una pregunta sobre mi {kw}.",
        ("Hola, necesito ayuda.", "Hola, mi pedido no ha llegado."),
        ("Gracias, una pregunta más.", "¿Cuándo estará listo?", "¡Muchas gracias!"),
    ),
    "fr": Language(
        "French",
        "bonjour",
        "Bonjour, j'ai une question sur mon {kw}.",
        ("Bonjour, j'ai besoin d'aide.", "Bonjour, ma commande n'est pas arrivée."),
        ("Merci, encore une question.", "D'accord, pour quand ?", "Merci beaucoup !"),
    ),
    "de": Language(
        "German",
        "hallo",
        "Hallo, ich habe eine Frage zu meinem {kw}.",
        ("Hallo, ich brauche Hilfe.", "Hallo, meine Bestellung ist nicht angekommen."),
        ("Danke, noch eine Frage.", "Gut, bis wann?", "Vielen Dank!"),
    ),
    "pt": Language(
        "Portuguese",
        "olá",
        "Olá, tenho uma dúvida sobre o meu {kw}.",
        ("Olá, preciso de ajuda.", "Olá, o meu pedido não chegou."),
        ("Obrigado, mais uma pergunta.", "Certo, para quando?", "Muito obrigado!"),
    ),
}
AGENT_REPLIES = (
    "Thanks for writing to us, let me check that for you.",
    "I have looked into it: it is sorted now.",
    "You are welcome. Is there anything else?",
    "Happy to help. Have a good day!",
)
# How many messages a customer writes in one conversation (each answered by the agent).
MESSAGES_PER_CONVERSATION = ((1, 0.25), (2, 0.40), (3, 0.25), (4, 0.10))


# -- configuration ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    agents: int = 200
    conversations: int = 3000
    hours: float = 8.0
    seed: int = 1
    capacity: tuple[int, int] = (15, 15)
    skills: int = 3
    languages: tuple[tuple[str, float], ...] = (("en", 0.85), ("hi", 0.15))
    strategy: str = "least_loaded"
    business: str = ""  # an existing business's slug; "" makes a throwaway one
    force: bool = False  # run although other businesses have agents at work

    def check(self) -> None:
        if not 1 <= self.agents <= MAX_AGENTS:
            raise InvalidParameter(f"--agents must be 1 to {MAX_AGENTS}.", field="agents")
        if not 1 <= self.conversations <= MAX_CONVERSATIONS:
            raise InvalidParameter(
                f"--conversations must be 1 to {MAX_CONVERSATIONS}.", field="conversations"
            )
        if not (math.isfinite(self.hours) and MIN_HOURS <= self.hours <= MAX_HOURS):
            raise InvalidParameter(
                f"--hours must be {MIN_HOURS:g} to {MAX_HOURS:g} (simulated hours).",
                field="hours",
            )
        low, high = self.capacity
        if not MIN_CAPACITY <= low <= high <= MAX_CAPACITY:
            raise InvalidParameter(
                f"--capacity must be {MIN_CAPACITY} to {MAX_CAPACITY}, or a range LOW-HIGH.",
                field="capacity",
            )
        if not 0 <= self.skills <= len(SKILLS):
            raise InvalidParameter(f"--skills must be 0 to {len(SKILLS)}.", field="skills")
        codes = [code for code, _ in self.languages]
        if not codes or len(set(codes)) != len(codes) or any(c not in LANGUAGES for c in codes):
            raise InvalidParameter(
                f"--languages takes distinct codes among {', '.join(LANGUAGES)}.",
                field="languages",
            )
        if self.strategy not in STRATEGY_CHOICES:
            raise InvalidParameter(
                f"--strategy must be one of {', '.join(STRATEGY_CHOICES)}.", field="strategy"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "agents": self.agents,
            "conversations": self.conversations,
            "hours": self.hours,
            "seed": self.seed,
            "capacity": list(self.capacity),
            "skills": self.skills,
            "languages": {code: round(share, 4) for code, share in self.languages},
            "strategy": self.strategy,
        }


def parse_capacity(text: str) -> tuple[int, int]:
    """`15` or a range `10-15`."""
    parts = text.strip().split("-")
    try:
        if len(parts) == 1:
            value = int(parts[0])
            return value, value
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise InvalidParameter(f"{text!r} is not a capacity: write 15 or 10-15.", field="capacity")


def parse_languages(text: str) -> tuple[tuple[str, float], ...]:
    """`en,hi` (the first is everyone's: 85 % of the customers, the others share the rest)
    or with shares in per cent, `en:70,hi:20,es:10`."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InvalidParameter("--languages needs at least one code.", field="languages")
    codes: list[str] = []
    weights: list[float] = []
    for item in items:
        code, _, weight = item.partition(":")
        codes.append(code.strip().lower())
        if weight:
            try:
                value = float(weight)
            except ValueError:
                value = -1.0
            if not (math.isfinite(value) and value > 0):
                raise InvalidParameter(
                    f"{item!r}: a language's share is a positive number.", field="languages"
                )
            weights.append(value)
    if weights and len(weights) != len(codes):
        raise InvalidParameter("Give every language a share, or none.", field="languages")
    if not weights:
        rest = len(codes) - 1
        weights = [1.0] if not rest else [0.85] + [0.15 / rest] * rest
    total = sum(weights)
    return tuple((code, weight / total) for code, weight in zip(codes, weights, strict=True))


# -- the plan: who works, who writes, when (pure, from the seed) -------------------------


@dataclasses.dataclass(frozen=True)
class AgentPlan:
    number: int
    team: str
    capacity: int
    skills: dict[str, int]
    languages: list[str]
    speed: float  # multiplies the agent's think times
    breaks: tuple[tuple[float, float], ...]  # (from, to), seconds since the start


@dataclasses.dataclass(frozen=True)
class ConversationPlan:
    number: int
    at: float  # seconds since the start
    language: str
    topic: str  # a skill, or GENERAL
    texts: tuple[str, ...]  # the customer's messages, in order


@dataclasses.dataclass(frozen=True)
class Plan:
    agents: list[AgentPlan]
    conversations: list[ConversationPlan]
    skills: list[tuple[str, str, tuple[str, ...]]]
    span_s: float


def _topics(config: Config) -> list[tuple[str, float]]:
    skills = SKILLS[: config.skills]
    if not skills:
        return [(GENERAL, 1.0)]
    return [(GENERAL, 0.4)] + [(name, 0.6 / len(skills)) for name, _, _ in skills]


def _apportion(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders)."""
    raw = [total * w for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _arrival(rnd: random.Random, span: float) -> float:
    """A time in [0, span) from the shift's intensity: 0.3 at the edges, 1.3 at noon."""
    while True:
        at = rnd.uniform(0.0, span)
        if rnd.random() * 1.3 <= 0.3 + math.sin(math.pi * at / span):
            return at


def _breaks(rnd: random.Random, span: float) -> tuple[tuple[float, float], ...]:
    out: list[tuple[float, float]] = []
    if rnd.random() < 0.3:  # a break: no heartbeat, no answer
        start = rnd.uniform(0.1 * span, 0.9 * span)
        out.append((start, start + rnd.uniform(5 * 60, 30 * 60)))
    if rnd.random() < 0.05:  # the console lost its connection for a few minutes
        start = rnd.uniform(0.0, span)
        out.append((start, start + rnd.uniform(2 * 60, 8 * 60)))
    merged: list[tuple[float, float]] = []
    for start, end in sorted(out):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def make_plan(config: Config) -> Plan:
    rnd = random.Random(f"parley-contact-centre:{config.seed}")
    span = config.hours * 3600.0
    skills = list(SKILLS[: config.skills])
    topics = _topics(config)
    labels = {name: label for name, label, _ in skills}
    primary_lang = config.languages[0][0]

    # Agents: a primary focus in proportion to demand (the team), a second skill for some,
    # languages in proportion (generously) to the customers who write in them.
    focus: list[str] = []
    for (topic, _), count in zip(
        topics, _apportion(config.agents, [w for _, w in topics]), strict=True
    ):
        focus += [topic] * count
    rnd.shuffle(focus)
    speakers: dict[str, set[int]] = {}
    for code, share in config.languages[1:]:
        wanted = min(config.agents, max(1, math.ceil(config.agents * min(1.0, 2.5 * share))))
        speakers[code] = set(rnd.sample(range(config.agents), wanted))
    agents = []
    for i in range(config.agents):
        own: dict[str, int] = {}
        if focus[i] != GENERAL:
            own[focus[i]] = rnd.randint(3, 5)
        if skills and rnd.random() < 0.4:
            other = rnd.choice(skills)[0]
            own.setdefault(other, rnd.randint(1, 4))
        agents.append(
            AgentPlan(
                number=i + 1,
                team=labels.get(focus[i], "General"),
                capacity=rnd.randint(*config.capacity),
                skills=own,
                languages=[primary_lang] + [c for c, who in speakers.items() if i in who],
                speed=math.exp(rnd.gauss(0.0, 0.2)),
                breaks=_breaks(rnd, span),
            )
        )

    keywords = {name: words for name, _, words in skills}
    counts = [n for n, _ in MESSAGES_PER_CONVERSATION]
    count_weights = [w for _, w in MESSAGES_PER_CONVERSATION]
    arrivals = sorted(_arrival(rnd, span) for _ in range(config.conversations))
    conversations = []
    for i, at in enumerate(arrivals):
        code = rnd.choices([c for c, _ in config.languages], [w for _, w in config.languages])[0]
        lang = LANGUAGES[code]
        topic = GENERAL
        if code == primary_lang:
            topic = rnd.choices([t for t, _ in topics], [w for _, w in topics])[0]
        if topic != GENERAL:
            first = lang.topic.format(kw=rnd.choice(keywords[topic]))
        else:
            first = rnd.choice(lang.general)
        if code != primary_lang and not first.casefold().startswith(lang.greeting.casefold()):
            first = f"{lang.greeting.capitalize()}! {first}"
        n = rnd.choices(counts, count_weights)[0]
        texts = (first, *(rnd.choice(lang.follow_ups) for _ in range(n - 1)))
        conversations.append(ConversationPlan(i + 1, at, code, topic, texts))
    return Plan(agents, conversations, skills, span)


# -- the running centre ------------------------------------------------------------------

ARRIVE, CUSTOMER, REPLY, RESOLVE, HEARTBEAT, AVAILABLE = range(6)
EVENT_NAMES = ("arrive", "customer", "reply", "resolve", "heartbeat", "available")


@dataclasses.dataclass
class _Agent:
    plan: AgentPlan
    user: StaffUser
    agent_id: int
    max_counter: int = 0  # the highest Agent.load seen at a step's end
    coming_back: bool = False  # going available again after an offer lapsed

    def back_at(self, t: float) -> float:
        """`t`, or the end of the break `t` falls in."""
        for start, end in self.plan.breaks:
            if start <= t < end:
                return end
        return t


@dataclasses.dataclass
class _Conversation:
    index: int
    plan: ConversationPlan
    customer: str
    conversation_id: int = 0
    session_id: int = 0
    sent: int = 0  # customer messages written so far
    replies: int = 0
    awaiting: bool = False  # the customer's last message is unanswered
    token: int = 0  # the generation of the pending agent action (older ones are stale)
    done: bool = False
    last_inbound: float = 0.0


ProgressFn = Callable[[float, str], None]


@dataclasses.dataclass
class Centre:
    config: Config
    plan: Plan
    business: Business
    number: PhoneNumber
    supervisor: StaffUser
    start: dt.datetime
    agents: dict[int, _Agent]  # by Agent.pk
    conversations: list[_Conversation]
    queues: list[tuple[int, str]]  # (pk, name) of the queues the customers reach
    run_id: str


@dataclasses.dataclass
class Result:
    """What a run produced: the figures (the same for the same configuration and seed) and
    how the run went (names, times, wall-clock durations)."""

    figures: dict[str, Any]
    run: dict[str, Any]
    config: Config

    def report(self) -> dict[str, Any]:
        return {"config": self.config.as_dict(), "figures": self.figures, "run": self.run}


def _lognormal(rnd: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rnd.gauss(0.0, sigma))


@contextlib.contextmanager
def _running(strategy: str) -> Iterator[None]:
    """The routing strategy of this run, and no stream wake-ups (see the module docstring)."""
    original_parley = settings.PARLEY
    settings.PARLEY = {**original_parley, "ROUTING_STRATEGY": strategy}
    try:
        with wake.suspended():
            yield
    finally:
        settings.PARLEY = original_parley


def shift_start(now: dt.datetime) -> dt.datetime:
    """08:00 UTC, `DAYS_BACK` days before `now`: the whole run, service windows included,
    lies in the past of the installation's clock."""
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=DAYS_BACK)).date()
    return dt.datetime.combine(day, SHIFT_START, tzinfo=dt.UTC)


# -- set-up ------------------------------------------------------------------------------


def _check_others(business_id: int) -> None:
    """The sweeps and the routing consumer act on every business: refuse to run beside
    agents at work elsewhere (their offers would be made and timed on this run's clock)."""
    busy = (
        Agent.objects.exclude(status=Agent.Status.OFFLINE).exclude(business_id=business_id).count()
    )
    if busy:
        raise Conflict(
            f"{busy} agent(s) of other businesses are at work: the simulation's sweeps and "
            "routing would act on them. Run it on a scratch database, or pass --force.",
            field="business",
        )


def _staff(business: Business, email: str, name: str, role: Role, at: dt.datetime) -> StaffUser:
    """A simulated staff account (no password: it never logs in), reused by later runs."""
    found = StaffUser.objects.filter(email=email).first()
    if found is not None:
        if found.business_id != business.pk:
            raise Conflict(f"{email} belongs to another business.", field="business")
        return found
    return StaffUser.objects.create_user(
        email, None, business=business, full_name=name, role=role.value, created_at=at
    )


def _business(config: Config, run_id: str, at: dt.datetime) -> tuple[Business, PhoneNumber]:
    """The existing business named by `config.business` and its first registered number, or
    a throwaway business with a registered number of its own."""
    if config.business:
        business = Business.objects.filter(slug=config.business).first()
        if business is None:
            raise InvalidParameter(f"No business with slug {config.business!r}.", field="business")
        number = (
            PhoneNumber.objects.filter(business=business, status=PhoneNumber.Status.CONNECTED)
            .order_by("created_at", "pk")
            .first()
        )
        if number is None:
            raise InvalidParameter(
                f"Business {config.business!r} has no registered number.", field="business"
            )
        return business, number
    business = Business.objects.create(
        name=f"Contact centre simulation {run_id[:8]}",
        slug=f"sim-{run_id[:12]}",
        country="IN",
        created_at=at,
    )
    taken = set(
        PhoneNumber.objects.filter(e164__startswith="+9199999").values_list("e164", flat=True)
    )
    free = (f"+9199999{i:05d}" for i in range(100_000) if f"+9199999{i:05d}" not in taken)
    e164 = next(free, None)
    if e164 is None:
        raise Conflict("No simulation number is free: delete old simulation businesses.")
    number = PhoneNumber.objects.create(
        business=business,
        e164=e164,
        country="IN",
        display_name=business.name,
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=at,
        registered_at=at,
    )
    return business, number


def _queues(config: Config, plan: Plan, supervisor: StaffUser) -> list[tuple[int, str]]:
    """General (the default queue), a queue per further language and per skill, a 30 s
    first-response SLA, and the keyword rules that send customers there (languages first).
    What a business reused by a later run has already is kept."""
    business_id = supervisor.business_id
    existing = {q.name: q for q in Queue.objects.filter(business_id=business_id)}
    name = f"First response in {TARGET_S} s"
    sla = SlaPolicy.objects.filter(business_id=business_id, name=name).first()
    if sla is None:
        sla = do_save_sla_policy(supervisor, name=name, first_response_s=TARGET_S)
    general = next((q for q in existing.values() if q.is_default), None)
    if general is None:
        general = do_save_queue(supervisor, name=DEFAULT_QUEUE, is_default=True,
                                sla_policy_id=sla.pk)  # fmt: skip
    out = [(general.pk, general.name)]
    rules = set(RoutingRule.objects.filter(business_id=business_id).values_list("kind", "value"))
    position = len(rules)

    def queue(label: str, **kwargs: Any) -> Queue:
        found = existing.get(label)
        if found is None:
            found = do_save_queue(supervisor, name=label, sla_policy_id=sla.pk, **kwargs)
        out.append((found.pk, found.name))
        return found

    def rule(value: str, queue_id: int, language: str = "") -> None:
        nonlocal position
        if ("keyword", value) in rules:
            return
        position += 1
        do_save_rule(supervisor, kind="keyword", value=value, queue_id=queue_id,
                     language=language, position=position)  # fmt: skip

    for code, _ in config.languages[1:]:
        lang = LANGUAGES[code]
        rule(lang.greeting, queue(lang.name, language=code).pk, code)
    for skill, label, keywords in plan.skills:
        found = queue(label, skills={skill: 2})
        for keyword in keywords:
            rule(keyword, found.pk)
    return out


def prepare(config: Config, plan: Plan, start: dt.datetime, run_id: str) -> Centre:
    """The business, its number, a supervisor, the queues and rules, and the agents (made
    available). Runs on the simulation clock at `start`."""
    with transaction.atomic():
        business, number = _business(config, run_id, start)
        if not config.force:
            _check_others(business.pk)
        domain = f"{business.slug}.{SIM_DOMAIN}"
        supervisor = _staff(business, f"supervisor@{domain}", "Simulation Supervisor",
                            Role.SUPERVISOR, start)  # fmt: skip
        users = [
            _staff(business, f"agent-{p.number:04d}@{domain}",
                   f"Simulated Agent {p.number:04d}", Role.AGENT, start)
            for p in plan.agents
        ]  # fmt: skip
    index.forget(business.pk)
    queues = _queues(config, plan, supervisor)
    agents: dict[int, _Agent] = {}
    for agent_plan, user in zip(plan.agents, users, strict=True):
        agent = do_update_agent(
            supervisor, user, capacity=agent_plan.capacity, languages=agent_plan.languages,
            team=agent_plan.team, skills=agent_plan.skills,
        )  # fmt: skip
        agents[agent.pk] = _Agent(agent_plan, user, agent.pk)
    for sim_agent in agents.values():
        do_set_agent_status(sim_agent.user, Agent.Status.AVAILABLE)
    # Customers new to the number (a business reused by a later run meets new ones).
    base = Conversation.objects.filter(number=number).count()
    conversations = [
        _Conversation(i, p, f"+9198{base + p.number:08d}") for i, p in enumerate(plan.conversations)
    ]
    return Centre(config, plan, business, number, supervisor, start, agents, conversations,
                  queues, run_id)  # fmt: skip


# -- the run -----------------------------------------------------------------------------

Event = tuple[float, int, int, int, int, int]  # at, sequence, kind, subject, agent, token


class _Run:
    """The event loop: scheduled actions at their instants, then at each step's end the
    routing consumer, the sweep, and what the agents' consoles show them."""

    def __init__(self, centre: Centre, frozen: clock.FrozenClock, progress: ProgressFn) -> None:
        self.c = centre
        self.frozen = frozen
        self.progress = progress
        seed = centre.config.seed
        self.rnd = random.Random(f"parley-contact-centre:{seed}:run")
        self.steps_rnd = random.Random(f"parley-contact-centre:{seed}:steps")
        self.heap: list[Event] = []
        self.sequence = 0
        self.by_conversation: dict[int, _Conversation] = {}
        self.offers_seen_until = centre.start
        self.touched_since = timezone.now()
        self.handled: defaultdict[str, int] = defaultdict(int)
        self.steps = 0
        self.t = 0.0
        self.done = 0
        self.written = False  # a customer or an agent wrote during this step

    # scheduling

    def at(self, t: float) -> dt.datetime:
        return self.c.start + dt.timedelta(seconds=t)

    def schedule(self, t: float, kind: int, subject: int, agent: int = 0, token: int = 0) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (t, self.sequence, kind, subject, agent, token))

    def think(self, agent: _Agent, median: float) -> float:
        return max(2.0, _lognormal(self.rnd, median * agent.plan.speed, 0.55))

    # what happens

    def run(self) -> float:
        """Run the shift; returns when it ended (seconds since the start)."""
        span = self.c.plan.span_s
        for i, conversation in enumerate(self.c.conversations):
            self.schedule(conversation.plan.at, ARRIVE, i)
        for agent in self.c.agents.values():
            self.schedule(self.rnd.uniform(0.0, HEARTBEAT_S), HEARTBEAT, agent.agent_id)
        total = len(self.c.conversations)
        while True:
            end = self.t + self.steps_rnd.uniform(*STEP_S)
            while self.heap and self.heap[0][0] <= end:
                t, _, kind, subject, agent_id, token = heapq.heappop(self.heap)
                self.frozen.set(self.at(t))
                self.handle(t, kind, subject, agent_id, token)
            self.t = end
            self.frozen.set(self.at(end))
            if self.written:  # what a wake-up after those commits would have run
                self.written = False
                catch_up()
            do_sweep_routing()
            self.observe(end)
            self.steps += 1
            phase = "shift" if end < span else "finishing"
            self.progress(
                min(1.0, end / span),
                f"{_clock_label(self.at(end))} {phase} · {self.done}/{total} resolved",
            )
            if end >= span and (self.done == total or end >= span + DRAIN.total_seconds()):
                return end

    def handle(self, t: float, kind: int, subject: int, agent_id: int, token: int) -> None:
        self.handled[EVENT_NAMES[kind]] += 1
        if kind == HEARTBEAT:
            self.heartbeat(t, self.c.agents[subject])
        elif kind == AVAILABLE:
            self.available(t, self.c.agents[subject])
        else:
            conversation = self.c.conversations[subject]
            if kind == ARRIVE:
                self.arrive(t, subject, conversation)
            elif conversation.done or token != conversation.token:
                self.handled["stale"] += 1
            elif kind == CUSTOMER:
                self.customer(t, subject, conversation)
            elif kind == REPLY:
                self.reply(t, subject, conversation, self.c.agents[agent_id])
            elif kind == RESOLVE:
                self.resolve(t, subject, conversation, self.c.agents[agent_id])

    def write(self, index_: int, conversation: _Conversation) -> None:
        """The customer's next message, as the business endpoint records it."""
        n = conversation.sent
        message = do_record_inbound_message(
            self.c.number,
            conversation.customer,
            Text(body=conversation.plan.texts[n]),
            envelope_guid=str(uuid.uuid5(uuid.UUID(self.c.run_id), f"{index_}:{n}")),
        )
        conversation.conversation_id = message.conversation_id
        conversation.sent += 1
        self.written = True
        conversation.awaiting = True
        conversation.last_inbound = self.t_of(message.received_at)

    def t_of(self, at: dt.datetime | None) -> float:
        return (at - self.c.start).total_seconds() if at is not None else self.t

    def arrive(self, t: float, index_: int, conversation: _Conversation) -> None:
        self.write(index_, conversation)
        self.by_conversation[conversation.conversation_id] = conversation

    def customer(self, t: float, index_: int, conversation: _Conversation) -> None:
        self.write(index_, conversation)
        conversation.token += 1
        state, holder = self.holder(conversation)
        agent = self.c.agents.get(holder or 0)
        if agent is not None and state in (Session.State.OFFERED, Session.State.ACTIVE):
            when = agent.back_at(t) + self.think(agent, 30.0)
            self.schedule(when, REPLY, index_, agent.agent_id, conversation.token)

    def holder(self, conversation: _Conversation) -> tuple[str, int | None]:
        """The session's state and agent, as the agent's conversation list shows them."""
        row = (
            Session.objects.filter(pk=conversation.session_id).values_list("state", "agent_id")
        ).first()
        return row if row is not None else ("", None)

    def reply(self, t: float, index_: int, conversation: _Conversation, agent: _Agent) -> None:
        back = agent.back_at(t)
        if back > t:  # on a break: answers when back
            self.schedule(back + self.think(agent, 20.0), REPLY, index_, agent.agent_id,
                          conversation.token)  # fmt: skip
            return
        state, holder = self.holder(conversation)
        if holder != agent.agent_id or state not in (Session.State.OFFERED, Session.State.ACTIVE):
            return  # no longer theirs (the offer lapsed, or they went idle)
        if conversation.awaiting:
            text = AGENT_REPLIES[min(conversation.replies, len(AGENT_REPLIES) - 1)]
            do_send_message(self.c.number, conversation.customer, Text(body=text), deliver=False)
            self.written = True
            conversation.awaiting = False
            conversation.replies += 1
        conversation.token += 1
        if conversation.sent < len(conversation.plan.texts):
            when = t + max(STEP_S[1], _lognormal(self.rnd, 90.0, 0.8))
            self.schedule(when, CUSTOMER, index_, 0, conversation.token)
        else:
            when = t + max(STEP_S[1], _lognormal(self.rnd, 30.0, 0.5))
            self.schedule(when, RESOLVE, index_, agent.agent_id, conversation.token)

    def resolve(self, t: float, index_: int, conversation: _Conversation, agent: _Agent) -> None:
        back = agent.back_at(t)
        state, holder = self.holder(conversation)
        if holder != agent.agent_id:
            return
        if back > t or state != Session.State.ACTIVE:  # away, or the answer not yet routed
            self.schedule(max(back, t + 1.0), RESOLVE, index_, agent.agent_id, conversation.token)
            return
        do_resolve_session(agent.user, conversation.session_id)
        conversation.done = True
        self.done += 1

    def heartbeat(self, t: float, agent: _Agent) -> None:
        back = agent.back_at(t)
        if back > t:  # a break: the console is silent until it ends
            self.schedule(back, HEARTBEAT, agent.agent_id)
            return
        do_record_heartbeat(agent.user, active=True)
        self.schedule(t + HEARTBEAT_S, HEARTBEAT, agent.agent_id)

    def available(self, t: float, agent: _Agent) -> None:
        back = agent.back_at(t)
        if back > t:
            self.schedule(back + self.rnd.uniform(5.0, 20.0), AVAILABLE, agent.agent_id)
            return
        agent.coming_back = False
        status, reason = Agent.objects.values_list("status", "status_reason").get(pk=agent.agent_id)
        if status == Agent.Status.AWAY and reason == "offer_timeout":
            do_set_agent_status(agent.user, Agent.Status.AVAILABLE)

    def observe(self, end: float) -> None:
        """What the agents' consoles show at the end of a step: their load, being set away
        for a lapsed offer (they go available again after a moment) and new offers (each
        agent answers after a think time)."""
        # Every write to an agent stamps `touched_at` (wall time): a change of load (an offer
        # takes a unit of capacity), of status. All of this process's writes are committed.
        mark = timezone.now()
        touched = (
            Agent.objects.filter(business_id=self.c.business.pk, touched_at__gte=self.touched_since)
            .order_by("pk")
            .values_list("pk", "load", "status", "status_reason")
        )
        changed = False
        for agent_id, load, status, reason in touched:
            agent = self.c.agents.get(agent_id)
            if agent is None:
                continue
            changed = True
            agent.max_counter = max(agent.max_counter, load)
            lapsed = status == Agent.Status.AWAY and reason == "offer_timeout"
            if lapsed and not agent.coming_back:
                agent.coming_back = True
                self.schedule(end + self.rnd.uniform(5.0, 20.0), AVAILABLE, agent.agent_id)
        self.touched_since = mark
        if not changed:
            return  # no offer without a claim on someone's capacity
        offers = (
            Session.objects.filter(
                business_id=self.c.business.pk,
                state=Session.State.OFFERED,
                offered_at__gt=self.offers_seen_until,
            )
            .order_by("offered_at", "pk")
            .values_list("pk", "conversation_id", "agent_id", "offered_at")
        )
        for session_id, conversation_id, agent_id, offered_at in offers:
            conversation = self.by_conversation.get(conversation_id)
            agent = self.c.agents.get(agent_id or 0)
            if conversation is None or agent is None:
                continue  # not this run's customer, or a person's offer
            conversation.session_id = session_id
            conversation.token += 1
            when = agent.back_at(self.t_of(offered_at) + self.think(agent, 20.0))
            self.schedule(max(when, end), REPLY, conversation.index, agent.agent_id,
                          conversation.token)  # fmt: skip
        self.offers_seen_until = self.at(end)

    def sign_off(self, end: float) -> float:
        """The shift ends: agents go offline (their unanswered conversations return to the
        queue); later the customers' service windows close and routing closes the sessions
        still open. Returns when the windows closed (seconds since the start)."""
        self.frozen.set(self.at(end))
        for agent in self.c.agents.values():
            do_set_agent_status(agent.user, Agent.Status.OFFLINE)
        last = max((c.last_inbound for c in self.c.conversations), default=end)
        closed = max(end, last) + DAY_S + 1.0
        self.frozen.set(self.at(closed))
        do_close_windows()
        catch_up()
        return closed


def catch_up() -> None:
    """Run the routing consumer of the stream until it has taken every entry (the runner's
    batches, without `run_consumers`' look for other consumers' work before and after)."""
    consumer = stream_consumers.get(CONSUMER)
    while run_batch(consumer) >= consumer.batch_size:
        pass


def _clock_label(at: dt.datetime) -> str:
    return at.strftime("%H:%M:%S")


def run_simulation(config: Config, progress: ProgressFn | None = None) -> Result:
    """Set up the contact centre, run the shift on the simulation clock and read the
    figures from the database."""
    config.check()
    started = time.monotonic()
    plan = make_plan(config)
    run_id = uuid.uuid4().hex
    start = shift_start(clock.now())
    report = progress or (lambda fraction, text: None)
    with _running(config.strategy), clock.frozen(start) as frozen:
        centre = prepare(config, plan, start, run_id)
        first_entry = stream_log.last_id()
        prepared = time.monotonic()
        loop = _Run(centre, frozen, report)
        try:
            shift_end = loop.run()
            windows_closed = loop.sign_off(shift_end)
        finally:
            index.forget(centre.business.pk)
        simulated = time.monotonic()
        figures = compute_figures(centre, shift_end, loop)
        # The consumer parks an entry it failed on (to retry later) instead of raising.
        failed = StreamPending.objects.filter(consumer=CONSUMER, entry_id__gt=first_entry)
        failures = list(failed.order_by("entry_id").values_list("last_error", flat=True))
    finished = time.monotonic()
    run = {
        "business": centre.business.slug,
        "number": centre.number.e164,
        "database": connection_vendor(),
        "start": start.isoformat(),
        "span_end": (start + dt.timedelta(seconds=plan.span_s)).isoformat(),
        "shift_end": (start + dt.timedelta(seconds=shift_end)).isoformat(),
        "windows_closed": (start + dt.timedelta(seconds=windows_closed)).isoformat(),
        "steps": loop.steps,
        "routing_failures": len(failures),
        "routing_errors": sorted(set(failures))[:5],
        "actions": dict(sorted(loop.handled.items())),
        "wall_s": {
            "setup": round(prepared - started, 3),
            "simulation": round(simulated - prepared, 3),
            "figures": round(finished - simulated, 3),
            "total": round(finished - started, 3),
        },
    }
    return Result(figures, run, config)


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


# -- figures -----------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile routing's service levels use."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "avg": statistics.fmean(values) if values else None,
        "p50": quantile(values, 0.5),
        "p90": quantile(values, 0.9),
        "p99": quantile(values, 0.99),
        "max": max(values) if values else None,
    }


def compute_figures(centre: Centre, shift_end: float, loop: _Run) -> dict[str, Any]:
    """The run's figures, from its Session rows and their log (what the database holds)."""
    start = centre.start
    ours = {c.conversation_id for c in centre.conversations if c.conversation_id}
    sessions = [
        row
        for row in Session.objects.filter(
            business_id=centre.business.pk, opened_at__gte=start,
            opened_at__lte=start + dt.timedelta(seconds=shift_end),
        )
        .order_by("pk")
        .values_list("pk", "conversation_id", "queue_id", "state", "agent_id", "opened_at",
                     "assigned_at", "first_response_at")
        if row[1] in ours
    ]  # fmt: skip
    ids = {row[0] for row in sessions}
    n = len(sessions)

    def secs(later: dt.datetime | None, earlier: dt.datetime) -> float | None:
        return None if later is None else (later - earlier).total_seconds()

    first = [f for r in sessions if (f := secs(r[7], r[5])) is not None]
    waits = [w for r in sessions if (w := secs(r[6], r[5])) is not None]
    states: defaultdict[str, int] = defaultdict(int)
    for row in sessions:
        states[row[3]] += 1

    # Who held what when, from the log: an offer takes a unit of the agent's capacity; a
    # return, resolution, abandonment or snooze gives it back.
    span = centre.plan.span_s
    agents = centre.agents
    holder: dict[int, tuple[int, float]] = {}
    load: defaultdict[int, int] = defaultdict(int)
    peak: defaultdict[int, int] = defaultdict(int)
    held: defaultdict[int, list[tuple[float, float]]] = defaultdict(list)
    notes: defaultdict[str, int] = defaultdict(int)
    log = (
        SessionLog.objects.filter(session__business_id=centre.business.pk, at__gte=start)
        .order_by("at", "id")
        .values_list("session_id", "kind", "at", "agent_id", "note")
    )
    for session_id, kind, at, agent_id, note in log:
        if session_id not in ids:
            continue
        t = (at - start).total_seconds()
        if kind == "returned":
            notes[note] += 1
        if kind == "offered" and agent_id is not None:
            holder[session_id] = (agent_id, t)
            load[agent_id] += 1
            peak[agent_id] = max(peak[agent_id], load[agent_id])
        elif kind in ("returned", "resolved", "abandoned", "snoozed") and session_id in holder:
            agent_id, since = holder.pop(session_id)
            load[agent_id] -= 1
            held[agent_id].append((since, t))
    for agent_id, since in holder.values():
        held[agent_id].append((since, math.inf))

    buckets = math.ceil(span / BUCKET_S - 1e-9)
    in_bucket = [0.0] * buckets
    team_held: defaultdict[str, float] = defaultdict(float)
    team_capacity: defaultdict[str, int] = defaultdict(int)
    team_agents: defaultdict[str, int] = defaultdict(int)
    for agent in agents.values():
        team_capacity[agent.plan.team] += agent.plan.capacity
        team_agents[agent.plan.team] += 1
    for agent_id, intervals in held.items():
        holding = agents.get(agent_id)
        if holding is None:
            continue
        for since, until in intervals:
            a, b = max(0.0, since), min(span, until)
            if b <= a:
                continue
            team_held[holding.plan.team] += b - a
            for k in range(int(a // BUCKET_S), min(buckets, math.ceil(b / BUCKET_S))):
                lo, hi = k * BUCKET_S, min(span, (k + 1) * BUCKET_S)
                in_bucket[k] += max(0.0, min(b, hi) - max(a, lo))
    capacity = sum(a.plan.capacity for a in agents.values())
    per_bucket = []
    for k in range(buckets):
        lo, hi = k * BUCKET_S, min(span, (k + 1) * BUCKET_S)
        per_bucket.append({
            "from": _clock_label(start + dt.timedelta(seconds=lo))[:5],
            "average_load": round(in_bucket[k] / (hi - lo), 3),
            "utilisation": round(in_bucket[k] / (capacity * (hi - lo)), 4),
        })  # fmt: skip
    team_sessions: defaultdict[str, int] = defaultdict(int)
    for row in sessions:
        last = agents.get(row[4] or 0)
        team_sessions[last.plan.team if last else "(never assigned)"] += 1
    teams = [
        {
            "team": team,
            "agents": team_agents[team],
            "capacity": team_capacity[team],
            "utilisation": round(team_held[team] / (team_capacity[team] * span), 4),
            "sessions": team_sessions[team],
        }
        for team in sorted(team_capacity)
    ]

    per_agent: list[dict[str, Any]] = [
        {
            "agent": agent.user.email.split("@")[0],
            "team": agent.plan.team,
            "capacity": agent.plan.capacity,
            "max_load": peak[agent.agent_id],
            "max_load_counter": agent.max_counter,
        }
        for agent in sorted(agents.values(), key=lambda a: a.plan.number)
    ]
    over = [
        a for a in per_agent if max(a["max_load"], a["max_load_counter"]) > a["capacity"]
    ]  # fmt: skip

    queue_names = dict(centre.queues)
    by_queue: defaultdict[int, list[Any]] = defaultdict(list)
    for row in sessions:
        by_queue[row[2]].append(row)
    for queue_id in sorted(set(by_queue) - set(queue_names)):
        queue_names[queue_id] = Queue.objects.get(pk=queue_id).name
    queues = []
    for queue_id, name in queue_names.items():
        rows = by_queue.get(queue_id, [])
        times = [f for r in rows if (f := secs(r[7], r[5])) is not None]
        waited = [w for r in rows if (w := secs(r[6], r[5])) is not None]
        queues.append({
            "queue": name,
            "sessions": len(rows),
            "answered": len(times),
            "abandoned": sum(1 for r in rows if r[3] == Session.State.ABANDONED),
            "within_target_share": _share(sum(1 for f in times if f <= TARGET_S), len(rows)),
            "first_response_avg_s": statistics.fmean(times) if times else None,
            "first_response_p50_s": quantile(times, 0.5),
            "waiting_avg_s": statistics.fmean(waited) if waited else None,
        })  # fmt: skip

    response = _summary(first)
    return {
        "conversations": len(centre.conversations),
        "sessions": n,
        "answered": len(first),
        "abandoned": states[Session.State.ABANDONED],
        "resolved": states[Session.State.RESOLVED],
        # Open and never answered (answered + abandoned + still_open = sessions, as no
        # simulated agent resolves a conversation without answering it).
        "still_open": sum(1 for r in sessions if r[3] in Session.OPEN_STATES and r[7] is None),
        "resolved_by_agents": loop.done,
        "messages": {
            "from_customers": sum(c.sent for c in centre.conversations),
            "from_agents": sum(c.replies for c in centre.conversations),
        },
        "first_response_s": {
            **response,
            "target_s": TARGET_S,
            "within_target_share": _share(sum(1 for f in first if f <= TARGET_S), n),
            "within_24h_share": _share(sum(1 for f in first if f <= DAY_S), n),
            "buckets": [list(b) for b in charts.bucket_first_responses(first)],
        },
        "waiting_s": {**_summary(waits), "never_assigned": n - len(waits)},
        "utilisation": {
            "capacity": capacity,
            "average": round(sum(in_bucket) / (capacity * span), 4),
            "average_load": round(sum(in_bucket) / span, 3),
            "per_15_min": per_bucket,
            "per_team": teams,
        },
        "load": {
            "agents": len(per_agent),
            "at_capacity": sum(1 for a in per_agent if a["max_load"] == a["capacity"]),
            "over_capacity": len(over),
            "max_load_ratio": round(
                max((a["max_load"] / a["capacity"] for a in per_agent), default=0.0), 4
            ),
            "per_agent": per_agent,
        },
        "queues": queues,
        "returns": dict(sorted(notes.items())),
        "sla_breaches": sum(
            1
            for session_id in SlaBreach.objects.filter(
                business_id=centre.business.pk, breached_at__gte=start
            ).values_list("session_id", flat=True)
            if session_id in ids
        ),
        "shift_s": round(shift_end, 3),
        "span_s": span,
    }


# -- what a supervisor reads -------------------------------------------------------------


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def charts_of(result: Result) -> dict[str, str]:
    """The three charts (file name → SVG)."""
    figures = result.figures
    first = figures["first_response_s"]
    utilisation = figures["utilisation"]
    peak = max((b["utilisation"] * 100 for b in utilisation["per_15_min"]), default=0.0)
    return {
        "first_response.svg": charts.histogram_svg(
            f"First response ({first['count']} answered of {figures['sessions']})",
            [(label, count) for label, count in first["buckets"]],
        ),
        "utilisation.svg": charts.bars_svg(
            "Utilisation (load / capacity) per 15 minutes",
            [(b["from"], b["utilisation"] * 100) for b in utilisation["per_15_min"]],
            "%",
            # Up to 100 % once the centre is busy; a quiet one on a scale that shows it.
            maximum=100 if peak > 50 else None,
        ),
        "queues.svg": charts.bars_svg(
            f"Answered within {TARGET_S} s, per queue",
            [(q["queue"], (q["within_target_share"] or 0.0) * 100) for q in figures["queues"]],
            "%",
            maximum=100,
        ),
    }


def summary_lines(result: Result) -> list[str]:
    f = result.figures
    first = f["first_response_s"]
    wait = f["waiting_s"]
    use = f["utilisation"]
    load = f["load"]
    run = result.run
    lines = [
        f"Contact centre {run['business']} ({run['database']}): {result.config.agents} agents, "
        f"{f['conversations']} conversations over {result.config.hours:g} h "
        f"(seed {result.config.seed}, {result.config.strategy})",
        f"  sessions {f['sessions']}: answered {f['answered']}, abandoned {f['abandoned']}, "
        f"still open {f['still_open']} (resolved by agents {f['resolved_by_agents']})",
        f"  first response: avg {_seconds(first['avg'])}, p50 {_seconds(first['p50'])}, "
        f"p90 {_seconds(first['p90'])}, p99 {_seconds(first['p99'])}; "
        f"within {TARGET_S} s {_pct(first['within_target_share'])}, "
        f"within 24 h {_pct(first['within_24h_share'])}",
        "  first-response buckets: " + ", ".join(f"{b} {n}" for b, n in first["buckets"]),
        f"  waiting (queued until offered): avg {_seconds(wait['avg'])}, "
        f"p50 {_seconds(wait['p50'])}, p90 {_seconds(wait['p90'])}, "
        f"max {_seconds(wait['max'])}; never offered {wait['never_assigned']}",
        f"  utilisation {_pct(use['average'])} (average load {use['average_load']:.1f} "
        f"of capacity {use['capacity']})",
    ]
    for team in use["per_team"]:
        lines.append(
            f"    {team['team']:<12} {team['agents']:>4} agents  capacity {team['capacity']:>5}"
            f"  utilisation {_pct(team['utilisation']):>8}  sessions {team['sessions']}"
        )
    lines.append(
        f"  max load vs capacity: highest ratio {load['max_load_ratio']:.2f}, "
        f"{load['at_capacity']} agent(s) reached capacity, {load['over_capacity']} exceeded it"
    )
    for q in f["queues"]:
        lines.append(
            f"    queue {q['queue']:<12} sessions {q['sessions']:>6}  "
            f"within {TARGET_S} s {_pct(q['within_target_share']):>8}  "
            f"first response avg {_seconds(q['first_response_avg_s'])}"
        )
    returns = ", ".join(f"{k or 'other'} {v}" for k, v in f["returns"].items()) or "none"
    lines.append(f"  returned to the queue: {returns}; SLA breaches {f['sla_breaches']}")
    if run.get("routing_failures"):
        lines.append(
            f"  WARNING: the routing consumer failed on {run['routing_failures']} event(s): "
            + "; ".join(run["routing_errors"])
        )
    wall = run["wall_s"]
    lines.append(
        f"  wall time {wall['total']:.1f} s (set-up {wall['setup']:.1f} s, "
        f"simulation {wall['simulation']:.1f} s in {run['steps']} steps, "
        f"figures {wall['figures']:.1f} s)"
    )
    return lines


def render_html(result: Result, svgs: dict[str, str]) -> str:
    """A page of its own (no server needed) with the charts and the figures."""
    f = result.figures
    first = f["first_response_s"]
    wait = f["waiting_s"]
    use = f["utilisation"]
    x = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{x(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{x(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"

    headline = table(
        ["Figure", "Value"],
        [
            ["Conversations", str(f["conversations"])],
            ["Answered", str(f["answered"])],
            ["Abandoned (no answer in the 24 h window)", str(f["abandoned"])],
            ["Still open, unanswered", str(f["still_open"])],
            ["First response, average", _seconds(first["avg"])],
            ["First response, p50 / p90 / p99",
             " / ".join(_seconds(first[k]) for k in ("p50", "p90", "p99"))],
            [f"Answered within {TARGET_S} s", _pct(first["within_target_share"])],
            ["Answered within 24 h", _pct(first["within_24h_share"])],
            ["Waiting until offered, average / p90",
             f"{_seconds(wait['avg'])} / {_seconds(wait['p90'])}"],
            ["Utilisation (load / capacity)", _pct(use["average"])],
            ["Highest load / capacity of any agent", f"{f['load']['max_load_ratio']:.2f}"],
            ["Agents over capacity", str(f["load"]["over_capacity"])],
            ["SLA breaches", str(f["sla_breaches"])],
        ],
    )  # fmt: skip
    teams = table(
        ["Team", "Agents", "Capacity", "Utilisation", "Sessions"],
        [[t["team"], str(t["agents"]), str(t["capacity"]), _pct(t["utilisation"]),
          str(t["sessions"])] for t in use["per_team"]],
    )  # fmt: skip
    queues = table(
        ["Queue", "Sessions", "Answered", f"Within {TARGET_S} s", "First response avg",
         "Waiting avg", "Abandoned"],
        [[q["queue"], str(q["sessions"]), str(q["answered"]), _pct(q["within_target_share"]),
          _seconds(q["first_response_avg_s"]), _seconds(q["waiting_avg_s"]),
          str(q["abandoned"])] for q in f["queues"]],
    )  # fmt: skip
    c = result.config
    run = result.run
    subtitle = (
        f"{c.agents} agents, {c.conversations} conversations over {c.hours:g} simulated hours "
        f"from {run['start'][:16].replace('T', ' ')} UTC · strategy {c.strategy} · "
        f"seed {c.seed} · business {run['business']}"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Contact centre simulation</title>
<style>
body {{ font-family: system-ui, sans-serif; color: #1d2433; margin: 2rem; max-width: 1100px; }}
h1 {{ margin-bottom: .2rem; }} .sub {{ color: #5b6476; margin-top: 0; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border-bottom: 1px solid #dfe3ea; padding: .3rem .8rem; text-align: left; }}
td:not(:first-child) {{ text-align: right; }}
</style></head>
<body>
<h1>Contact centre simulation</h1>
<p class="sub">{x(subtitle)}</p>
<h2>Service level</h2>
{headline}
<div class="charts">
<figure>{svgs["first_response.svg"]}</figure>
<figure>{svgs["queues.svg"]}</figure>
<figure>{svgs["utilisation.svg"]}</figure>
</div>
<h2>Queues</h2>
{queues}
<h2>Teams</h2>
{teams}
<p class="sub">All figures: <a href="report.json">report.json</a>.</p>
</body></html>
"""


def write_outputs(result: Result, out: Path) -> list[Path]:
    """report.json, the three charts and index.html, in `out` (made if need be)."""
    out.mkdir(parents=True, exist_ok=True)
    svgs = charts_of(result)
    files = {
        "report.json": json.dumps(result.report(), indent=2, ensure_ascii=False) + "\n",
        **svgs,
        "index.html": render_html(result, svgs),
    }
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
