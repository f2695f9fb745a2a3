"""``LocalRuntime``: the whole platform on one machine, composed from ``template.yaml``.

Start order: AWS endpoint (embedded moto server unless ``AWS_ENDPOINT_URL``) -> gateways bind their
ports -> the template is resolved against those endpoints -> resources are provisioned -> the Lambda
service starts and is attached to the gateways -> SQS pollers and the scheduler start -> ``local.json``
is written -> the seed hook runs. Stop is the reverse; ``with LocalRuntime(...) as rt:`` does both.

Seed hook (extension point): if a module ``voltway.local.seed`` exists, its ``seed(runtime)`` is called
once the stack is up (skipped with ``seed=False`` / ``--no-seed``). It gets this ``LocalRuntime``:
``runtime.aws_endpoint_url``, ``runtime.provisioned`` (table names, queue URLs...), ``runtime.issuer``...
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from voltway.local.emulator import Emulator
from voltway.local.event_sources import Scheduler, SqsPoller, poller_concurrency
from voltway.local.http_gateway import HttpGateway
from voltway.local.lambdas import DEFAULT_CONCURRENCY, DEFAULT_INIT_TIMEOUT, STOP_GRACE, LambdaService
from voltway.local.resources import AwsClients, Provisioned, provision
from voltway.local.template import REGION, LocalEndpoints, Template, load_template
from voltway.local.websocket_gateway import (
    DEFAULT_FRAME_LIMIT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_LIFETIME,
    WebSocketGateway,
    WebSocketSettings,
)

logger = logging.getLogger(__name__)

SEED_MODULE = "voltway.local.seed"


@dataclass(frozen=True)
class RuntimeSettings:
    """Everything ``voltway local`` can be told; the defaults are the fixed local ports."""

    template_path: Path | None = None  # None: the repository's template.yaml
    state_dir: Path | None = None  # None: $VOLTWAY_STATE_DIR or <repo>/.voltway
    host: str = "127.0.0.1"
    http_port: int = 8000
    ws_port: int = 9000
    management_port: int = 9001
    emulator_port: int = 5000
    aws_endpoint_url: str | None = None  # None: $AWS_ENDPOINT_URL, else the embedded emulator
    frame_limit: int = DEFAULT_FRAME_LIMIT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_lifetime: float = DEFAULT_MAX_LIFETIME
    max_concurrency: int = DEFAULT_CONCURRENCY
    init_timeout: float = DEFAULT_INIT_TIMEOUT  # the init phase's own limit (Lambda: 10 s; see lambdas.py)
    prewarm: bool = True  # one environment per function starts in the background at startup
    stop_grace: float = STOP_GRACE  # seconds busy environments get at stop before they are killed
    disconnect_grace: float = 3.0  # seconds $disconnect invocations get at stop
    schedule_scale: float = 1.0
    schedule_interval: float | None = None
    seed: bool = True

    @classmethod
    def for_tests(cls, template_path: Path | None, state_dir: Path, **overrides: Any) -> RuntimeSettings:
        """Free ports everywhere, a private state dir, the embedded emulator, no seed, no prewarm."""
        base = cls(
            template_path=template_path,
            state_dir=state_dir,
            http_port=0,
            ws_port=0,
            management_port=0,
            emulator_port=0,
            aws_endpoint_url="",
            seed=False,
            prewarm=False,
        )
        return replace(base, **overrides)


def prewarm_order(template: Template) -> list[str]:
    """Functions in the order worth warming: WebSocket routes (chargers), HTTP routes, then the rest."""
    order: list[str] = []
    if template.websocket_api is not None:
        routes = template.websocket_api.routes
        order += [routes[key] for key in ("$connect", "$default", "$disconnect") if key in routes]
        order += list(routes.values())
    order += [route.function for route in template.http_routes]
    order += list(template.functions)
    return [name for name in dict.fromkeys(order) if name in template.functions]


class LocalRuntime:
    """The running local stack. Attributes are valid between ``start()`` and ``stop()``.

    - ``template``: the resolved :class:`~voltway.local.template.Template`
    - ``aws_endpoint_url``, ``provisioned`` (:class:`~voltway.local.resources.Provisioned`)
    - ``lambdas`` (:class:`~voltway.local.lambdas.LambdaService`): ``invoke(logical_id, event)``
    - ``http_url``, ``charger_ws_url`` (``ws://host:port/ocpp``), ``management_url`` (with the stage:
      the ``endpoint_url`` of an ``apigatewaymanagementapi`` client), ``stage``
    - ``issuer`` (the local JWT issuer), ``jwt_issuer``, ``jwt_audience``
    """

    def __init__(self, settings: RuntimeSettings | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self._emulator: Emulator | None = None
        self._ws: WebSocketGateway | None = None
        self._http: HttpGateway | None = None
        self._pollers: list[SqsPoller] = []
        self._scheduler: Scheduler | None = None
        self.lambdas: LambdaService | None = None
        self.template: Template | None = None
        self.provisioned: Provisioned | None = None
        self.aws_endpoint_url: str | None = None
        self.http_url = ""
        self.charger_ws_url = ""
        self.management_url = ""
        self.stage = ""
        self.jwt_issuer = ""
        self.jwt_audience = ""
        self.issuer: Any = None
        self.state_dir = self._state_dir()

    def _state_dir(self) -> Path:
        from voltway.statedir import state_dir

        return self.settings.state_dir or state_dir()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        s = self.settings
        self._emulator = Emulator(port=s.emulator_port, host=s.host, endpoint_url=s.aws_endpoint_url or None)
        emulator = self._emulator.start()
        self.aws_endpoint_url = emulator.endpoint_url
        draft = load_template(s.template_path)
        self.issuer = self._load_issuer()
        self._bind_gateways(draft)
        endpoints = LocalEndpoints(
            emulator_url=self.aws_endpoint_url,
            management_url=self._ws.management_url if self._ws else f"http://{s.host}:{s.management_port}",
            http_url=self._http.url if self._http else f"http://{s.host}:{s.http_port}",
            ws_url=self._ws.url.rsplit("/", 1)[0] if self._ws else f"ws://{s.host}:{s.ws_port}",
        )
        self.template = template = load_template(s.template_path, endpoints=endpoints)
        clients = AwsClients.create(self.aws_endpoint_url, fake_credentials=not emulator.is_real_aws)
        self.provisioned = provision(template, clients)
        self.lambdas = LambdaService(
            template,
            self.aws_endpoint_url,
            max_concurrency=s.max_concurrency,
            init_timeout=s.init_timeout,
            fake_credentials=not emulator.is_real_aws,
        )
        if s.prewarm:
            self.lambdas.prewarm(prewarm_order(template))
        for gateway in (self._ws, self._http):
            if gateway is not None:
                gateway.lambdas = self.lambdas
        self._start_event_sources(template, clients)
        self._describe(template)
        self._write_local_info()
        if s.seed:
            self._run_seed_hook()

    def _load_issuer(self) -> Any:
        from voltway.identity.local_issuer import LocalIssuer
        from voltway.statedir import issuer_key_path

        return LocalIssuer.load_or_create(issuer_key_path(self.state_dir))

    def _bind_gateways(self, draft: Template) -> None:
        s = self.settings
        if draft.websocket_api is not None:
            ws_settings = WebSocketSettings(
                host=s.host,
                port=s.ws_port,
                management_port=s.management_port,
                frame_limit=s.frame_limit,
                idle_timeout=s.idle_timeout,
                max_lifetime=s.max_lifetime,
            )
            self._ws = WebSocketGateway(draft.websocket_api, None, ws_settings)
            self._ws.start()
        if draft.http_apis:
            api_id = next(iter(draft.http_apis))
            if len(draft.http_apis) > 1:
                logger.warning("several HTTP APIs in the template; serving %s only", api_id)
            routes = [r for r in draft.http_routes if r.api == api_id]
            self._http = HttpGateway(
                draft.http_apis[api_id], routes, None, self.issuer, host=s.host, port=s.http_port
            )
            self._http.start()

    def _start_event_sources(self, template: Template, clients: AwsClients) -> None:
        assert self.lambdas is not None and self.provisioned is not None
        for source in template.sqs_event_sources:
            if not source.enabled:
                continue
            concurrency = poller_concurrency(
                template, source, self.lambdas.pool(source.function).concurrency_cap
            )
            queue_url = self.provisioned.queues[source.queue]
            poller = SqsPoller(source, queue_url, clients.sqs, self.lambdas, concurrency=concurrency)
            poller.start()
            self._pollers.append(poller)
        self._scheduler = Scheduler(
            template.schedules,
            self.lambdas,
            schedule_scale=self.settings.schedule_scale,
            schedule_interval=self.settings.schedule_interval,
        )
        self._scheduler.start()

    def _describe(self, template: Template) -> None:
        self.stage = template.websocket_api.stage if template.websocket_api else template.stage
        self.http_url = self._http.url if self._http else ""
        self.charger_ws_url = self._ws.url if self._ws else ""
        self.management_url = f"{self._ws.management_url}/{self.stage}" if self._ws else ""
        authorizers = [a for api in template.http_apis.values() for a in api.authorizers.values()]
        if authorizers:
            self.jwt_issuer = authorizers[0].issuer
            self.jwt_audience = authorizers[0].audience[0] if authorizers[0].audience else ""

    def _write_local_info(self) -> None:
        from voltway.statedir import LocalInfo, write_local_info

        info = LocalInfo(
            http_api_url=self.http_url,
            charger_ws_url=self.charger_ws_url,
            management_url=self.management_url,
            aws_endpoint_url=self.aws_endpoint_url,
            region=REGION,
            stage=self.stage,
            jwt_issuer=self.jwt_issuer,
            jwt_audience=self.jwt_audience,
        )
        write_local_info(info, self.state_dir)

    def _run_seed_hook(self) -> None:
        if importlib.util.find_spec(SEED_MODULE) is None:
            logger.debug("no %s module: nothing to seed", SEED_MODULE)
            return
        module = importlib.import_module(SEED_MODULE)
        logger.info("seeding through %s.seed", SEED_MODULE)
        module.seed(self)

    @property
    def sqs_pollers(self) -> list[SqsPoller]:
        """The running SQS pollers (one per enabled SQS event), for tests and diagnostics."""
        return list(self._pollers)

    def stop(self) -> None:
        """Stop everything that started, in reverse order; safe to call twice.

        Bounded (a few seconds): sockets close and ``$disconnect`` gets ``disconnect_grace``; then the
        Lambda service abandons what is still in flight or queued (busy environments get ``stop_grace``,
        then are killed), and every thread is joined with a timeout.
        """
        s = self.settings
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        for poller in self._pollers:
            poller.stop()
        if self._ws is not None:
            self._ws.close_connections(timeout=s.disconnect_grace)  # $disconnect still reaches the functions
        if self.lambdas is not None:
            self.lambdas.close(grace=s.stop_grace)
            self.lambdas = None
        if self._ws is not None:
            self._ws.stop()
            self._ws = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        for poller in self._pollers:
            poller.join(timeout=2)
        self._pollers = []
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None
        info = self.state_dir / "local.json"
        if self.template is not None and info.exists():
            info.unlink()

    # ------------------------------------------------------------------ banner
    def banner(self) -> str:
        """A readable summary of the endpoints (the command prints it)."""
        template = self.template
        lines = [
            "Voltway local stack is up",
            f"  template            {template.path if template else '-'}",
            f"  HTTP API            {self.http_url or '-'}",
            f"  charger WebSocket   {self.charger_ws_url or '-'}/{{chargePointId}}",
            f"  @connections API    {self.management_url or '-'}",
            f"  AWS endpoint        {self.aws_endpoint_url} ({REGION})",
            f"  JWT issuer          {self.jwt_issuer or '-'}",
            f"  JWT audience        {self.jwt_audience or '-'}",
            f"  state dir           {self.state_dir}",
        ]
        if template is not None:
            lines.append(f"  functions           {len(template.functions)}: {', '.join(template.functions)}")
            for source in template.sqs_event_sources:
                lines.append(f"  sqs                 {source.queue} -> {source.function}")
            for schedule in template.schedules:
                lines.append(f"  schedule            {schedule.expression} -> {schedule.function}")
        lines.append("Ctrl-C stops it.")
        return "\n".join(lines)
