/**
 * The Compose deployment (deploy/compose): what can be checked without a Docker daemon.
 *
 * - Every Compose file validates with docker-compose (Debian's 1.29, `config -q`) under a test
 *   environment made from .env.example, and is refused when a required secret is missing.
 * - Invariants read from the parsed files: engines agree with each other and with the probes
 *   (--engines, --index, --engine-id, --partitions, --jetstream), only the live-capture services
 *   get capabilities (exactly NET_RAW and NET_ADMIN) and root, nothing is privileged, every
 *   service with an endpoint has a healthcheck and is waited for through it, secrets are only
 *   ${VAR} references, .env.example names exactly the variables the files read, one image
 *   reference for every NetSpectra service, pinned third-party images.
 * - The cluster's configuration (deploy/compose/netspectra.yaml) loads with the project's own
 *   loader, with the environment each service is given, and has the ClickHouse writers, JetStream
 *   and the listen addresses the Compose file relies on.
 *
 * docker-compose missing: those tests skip locally and fail when CI is set (CI installs it:
 * apt-get install docker-compose), like the other external tools of the test kit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type NetSpectraConfig } from '../../src/config/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const composeDir = join(root, 'deploy/compose');
const COMPOSE_FILES = ['compose.yaml', 'compose.embedded.yaml'] as const;
const CONFIG_TARGET = '/etc/netspectra/netspectra.yaml';
const IMAGE_REFERENCE = '${NETSPECTRA_IMAGE:-localhost/netspectra:0.1.0}';
/** Variables Compose itself reads from .env; no file references them. */
const COMPOSE_OWN_VARIABLES = new Set(['COMPOSE_PROJECT_NAME', 'COMPOSE_PROFILES']);
/** Names of variables and keys that hold secrets. */
const SECRET_NAME = /PASSWORD|TOKEN|SECRET|API_KEY/i;

// ---------------------------------------------------------------------------------------------
// The files

type Scalar = string | number | boolean | null;

interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
}

interface LongVolume {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
}

interface Service {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, Scalar> | string[];
  ports?: (string | number)[];
  expose?: (string | number)[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  cap_add?: string[];
  privileged?: boolean;
  network_mode?: string;
  pid?: string;
  user?: string;
  profiles?: string[];
  restart?: string;
  volumes?: (string | LongVolume)[];
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const readText = (relative: string): string => readFileSync(join(root, relative), 'utf8');

/** A Compose file as written (anchors resolved, `<<` merge keys applied, as Compose does). */
function readCompose(file: string): ComposeFile {
  return parseYaml(readFileSync(join(composeDir, file), 'utf8'), { merge: true }) as ComposeFile;
}

const composeFiles = Object.fromEntries(COMPOSE_FILES.map((file) => [file, readCompose(file)])) as Record<(typeof COMPOSE_FILES)[number], ComposeFile>;
const cluster = composeFiles['compose.yaml'];
const embedded = composeFiles['compose.embedded.yaml'];
const allServices = (): [string, string, Service][] =>
  COMPOSE_FILES.flatMap((file) => Object.entries(composeFiles[file].services).map(([name, service]): [string, string, Service] => [file, name, service]));

function commandOf(service: Service): string[] {
  const { command } = service;
  if (command === undefined) return [];
  // The string form would be split by a shell-like parser; our files use lists so nothing is split.
  assert.ok(Array.isArray(command), `commands are lists, got ${JSON.stringify(command)}`);
  return command.map(String);
}

/** The value after `--name` in a command, or undefined. */
function flag(command: string[], name: string): string | undefined {
  const at = command.indexOf(name);
  return at === -1 ? undefined : command[at + 1];
}

function environmentOf(service: Service): Record<string, string> {
  const { environment } = service;
  if (environment === undefined) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((entry) => [entry.split('=')[0] ?? '', entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

const healthcheckText = (service: Service): string => {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
};

const isEngine = (service: Service): boolean => commandOf(service)[0] === 'engine';
const isProbe = (service: Service): boolean => commandOf(service)[0] === 'probe';
/** Live capture on an interface: `probe --iface` or `serve --iface`. */
const capturesLive = (service: Service): boolean => commandOf(service).includes('--iface');
const mountsClusterConfig = (service: Service): boolean =>
  (service.volumes ?? []).some((volume) => (typeof volume === 'string' ? volume.split(':')[1] === CONFIG_TARGET : volume.target === CONFIG_TARGET));

/** Every string value in a parsed YAML tree (keys excluded, comments never parsed). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

/** Names of the variables a string references: ${VAR}, ${VAR:-…}, ${VAR:?…}; `$${` is a literal. */
function variablesIn(text: string): string[] {
  return [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] ?? '');
}

const envExample = readText('deploy/compose/.env.example');
/** .env.example's assignments, in order. */
const envExampleEntries = envExample
  .split('\n')
  .map((line) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line))
  .filter((match): match is RegExpExecArray => match !== null)
  .map((match) => [match[1] ?? '', match[2] ?? ''] as const);

// Representative secrets for the test environment (they satisfy the loader's token rules).
const TEST_SECRETS = {
  CLICKHOUSE_PASSWORD: 'test-clickhouse-password-7f3a',
  NETSPECTRA_API_TOKEN: 'test-api-token-0123456789abcdef',
  GRAFANA_ADMIN_PASSWORD: 'test-grafana-password-91c2',
} as const;
const testSecret = (name: string): string | undefined => (TEST_SECRETS as Readonly<Record<string, string>>)[name];

/** .env.example with the secrets filled in (or left empty for `without`). */
function testEnvText(without?: string): string {
  return envExampleEntries.map(([name, value]) => `${name}=${name === without ? '' : (testSecret(name) ?? value)}`).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// docker-compose

function findDockerCompose(): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const folder of folders) {
    if (folder === '') continue;
    try {
      accessSync(join(folder, 'docker-compose'), constants.X_OK);
      return join(folder, 'docker-compose');
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

const dockerCompose = findDockerCompose();

/** `skip` for tests that run docker-compose: a reason locally, never in CI (where it must be installed). */
function composeSkip(): string | false {
  if (dockerCompose !== undefined) return false;
  if (process.env.CI) throw new Error('docker-compose is not installed, and CI must validate the Compose files (apt-get install docker-compose)');
  return 'docker-compose is not installed (apt-get install docker-compose)';
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * docker-compose with the given .env text and nothing of this process's environment (a variable
 * set in the developer's shell would otherwise win over the file), `config` needs no daemon.
 */
function runCompose(file: string, envText: string, args: string[]): Run {
  const dir = mkdtempSync(join(tmpdir(), 'ns-compose-'));
  try {
    const envFile = join(dir, 'test.env');
    writeFileSync(envFile, envText);
    const result = spawnSync(dockerCompose!, ['--env-file', envFile, '-f', join(composeDir, file), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The cluster configuration loaded as a container would: from a folder with no .env beside it. */
function loadClusterConfig(env: Record<string, string>): NetSpectraConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ns-compose-config-'));
  try {
    const file = join(dir, 'netspectra.yaml');
    copyFileSync(join(composeDir, 'netspectra.yaml'), file);
    return loadConfig({ file, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

describe('Compose files validate with docker-compose', { skip: composeSkip() }, () => {
  for (const file of COMPOSE_FILES) {
    test(`${file}: config -q with every profile`, () => {
      const profiles = [...new Set(Object.values(composeFiles[file].services).flatMap((service) => service.profiles ?? []))];
      const run = runCompose(file, testEnvText(), [...profiles.flatMap((profile) => ['--profile', profile]), 'config', '-q']);
      assert.equal(run.status, 0, `docker-compose config -q failed:\n${run.stderr}`);
    });
  }

  test('a required secret left empty is refused, naming it', () => {
    for (const [file, secret] of [
      ['compose.yaml', 'CLICKHOUSE_PASSWORD'],
      ['compose.yaml', 'NETSPECTRA_API_TOKEN'],
      ['compose.yaml', 'GRAFANA_ADMIN_PASSWORD'],
      ['compose.embedded.yaml', 'NETSPECTRA_API_TOKEN'],
    ] as const) {
      const run = runCompose(file, testEnvText(secret), ['config', '-q']);
      assert.notEqual(run.status, 0, `${file} accepted an empty ${secret}`);
      assert.match(run.stderr, new RegExp(`set ${secret} in \\.env`), `${file}: ${run.stderr}`);
    }
    // .env.example as shipped has no secrets, so it cannot start anything by mistake
    assert.notEqual(runCompose('compose.yaml', envExample, ['config', '-q']).status, 0);
  });

  test('every service mounting netspectra.yaml loads it with the environment Compose gives it', () => {
    const run = runCompose('compose.yaml', testEnvText(), ['config']);
    assert.equal(run.status, 0, run.stderr);
    const resolved = parseYaml(run.stdout) as ComposeFile;
    const mounting = Object.entries(resolved.services).filter(([, service]) => mountsClusterConfig(service));
    assert.deepEqual(mounting.map(([name]) => name).sort(), ['ai', 'api', 'engine-0', 'engine-1', 'probe', 'probe-replay']);
    for (const [name, service] of mounting) {
      const config = loadClusterConfig(environmentOf(service));
      assert.equal(config.probe.jetstream, true, name);
      if (isEngine(service) || name === 'api') {
        for (const group of ['exact', 'sketch'] as const) {
          const writers = config.aggregator[group].writers.filter((writer) => writer.enabled && writer.type === 'clickhouse');
          assert.equal(writers.length, 1, `${name}: ${group} writes to ClickHouse`);
          assert.equal(writers[0]?.clickhouse?.password, TEST_SECRETS.CLICKHOUSE_PASSWORD, `${name} gets the ClickHouse password`);
          assert.equal(writers[0]?.clickhouse?.username, environmentOf(resolved.services.clickhouse!).CLICKHOUSE_USER, `${name}: the user the clickhouse service creates`);
          assert.equal(writers[0]?.clickhouse?.database, environmentOf(resolved.services.clickhouse!).CLICKHOUSE_DB, `${name}: the database the clickhouse service creates`);
        }
      }
      if (name === 'api') assert.deepEqual(config.api.authTokens, [TEST_SECRETS.NETSPECTRA_API_TOKEN]);
    }
  });
});

describe('the cluster configuration (netspectra.yaml)', () => {
  const env = {
    CLICKHOUSE_DB: 'netspectra',
    CLICKHOUSE_USERNAME: 'netspectra',
    CLICKHOUSE_PASSWORD: TEST_SECRETS.CLICKHOUSE_PASSWORD,
    NETSPECTRA_API_TOKEN: TEST_SECRETS.NETSPECTRA_API_TOKEN,
    AI_AUTH_TOKEN: 'test-ai-token-5e1d',
    ALERTER_AI_ANALYSIS: 'true',
    SMTP_HOST: 'smtp.example.com',
    SMTP_PORT: '465',
    SMTP_FROM: 'netspectra@example.com',
    SMTP_TO: 'ops@example.com,noc@example.com',
  };

  test('loads with the project loader: ClickHouse writers, JetStream, listen addresses', () => {
    const config = loadClusterConfig(env);
    for (const group of ['exact', 'sketch'] as const) {
      const writers = config.aggregator[group].writers.filter((writer) => writer.enabled);
      assert.deepEqual(
        writers.map((writer) => writer.type),
        ['clickhouse'],
        `${group}: ClickHouse only (no embedded store file per engine container)`,
      );
      const clickhouse = writers[0]?.clickhouse;
      assert.equal(clickhouse?.host, 'clickhouse', 'the Compose service name');
      assert.equal(clickhouse?.port, 8123, "the official image's HTTP port");
      assert.equal(clickhouse?.password, env.CLICKHOUSE_PASSWORD);
      assert.ok(clickhouse?.spoolPath.startsWith('/var/lib/netspectra/'), `the spool is in the data volume: ${clickhouse?.spoolPath}`);
    }
    assert.equal(config.probe.jetstream, true);
    assert.equal(config.probe.natsUrl, 'nats://nats:4222');
    assert.ok(config.probe.streamMaxAgeMs > config.aggregator.periodMs, 'retention exceeds a period (docs/pipeline.md)');
    assert.equal(config.api.httpListenAddr, '0.0.0.0:8080');
    assert.equal(config.api.rpcListenAddr, '0.0.0.0:50051');
    assert.equal(config.ai.rpcListenAddr, '0.0.0.0:50052');
    assert.deepEqual(config.api.authTokens, [env.NETSPECTRA_API_TOKEN]);
    assert.equal(config.ai.authToken, env.AI_AUTH_TOKEN);
    assert.equal(config.alerter.aiAnalysis.enabled, true);
    assert.equal(config.alerter.aiAnalysis.serviceAddr, 'ai:50052');
    assert.equal(config.smtp.port, 465);
    assert.deepEqual(config.smtp.to, ['ops@example.com', 'noc@example.com']);
  });

  test('every variable has a default, so each component loads it with only its own variables', () => {
    const config = loadClusterConfig({});
    assert.deepEqual(config.api.authTokens, [], 'an unset token is dropped (Compose requires it of the api)');
    assert.equal(config.alerter.aiAnalysis.enabled, false);
    assert.equal(config.smtp.host, '');
  });

  test('every variable it reads is passed by some service that mounts it, and nothing else is passed', () => {
    const variables = new Set(variablesIn(readText('deploy/compose/netspectra.yaml').replace(/^\s*#.*$/gm, '')));
    const mounting = Object.values(cluster.services).filter(mountsClusterConfig);
    const passed = new Set(mounting.flatMap((service) => Object.keys(environmentOf(service))));
    assert.deepEqual([...variables].filter((name) => !passed.has(name)), [], 'read by netspectra.yaml, never set by compose.yaml');
    assert.deepEqual([...passed].filter((name) => !variables.has(name)), [], 'set by compose.yaml, never read by netspectra.yaml');
  });
});

describe('Compose invariants', () => {
  test('engines: --engines is their number, --index 0..n-1, distinct --engine-id and volumes', () => {
    const engines = Object.entries(cluster.services).filter(([, service]) => isEngine(service));
    const n = engines.length;
    assert.ok(n >= 2, `a cluster has engines to share the traffic, found ${n}`);
    const indexes: number[] = [];
    const ids = new Set<string>();
    const dataVolumes = new Set<string>();
    for (const [name, service] of engines) {
      const command = commandOf(service);
      assert.equal(flag(command, '--engines'), String(n), `${name}: --engines`);
      indexes.push(Number(flag(command, '--index')));
      const id = flag(command, '--engine-id');
      assert.ok(id !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id), `${name}: --engine-id ${id}`);
      ids.add(id);
      assert.equal(flag(command, '--partitions-owned'), undefined, `${name}: ownership by --engines/--index only`);
      const data = (service.volumes ?? []).find((volume): volume is string => typeof volume === 'string' && volume.endsWith(':/var/lib/netspectra'));
      assert.ok(data !== undefined, `${name}: a data volume for its spool`);
      dataVolumes.add(data);
    }
    assert.deepEqual(
      indexes.sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
    assert.equal(ids.size, n, 'engine ids are distinct');
    assert.equal(dataVolumes.size, n, 'each engine has its own volume');
  });

  test('probes and engines agree on --partitions and JetStream', () => {
    const pipeline = Object.entries(cluster.services).filter(([, service]) => isEngine(service) || isProbe(service));
    assert.ok(pipeline.some(([, service]) => isProbe(service)));
    const partitions = new Set(pipeline.map(([, service]) => flag(commandOf(service), '--partitions')));
    assert.equal(partitions.size, 1, `one --partitions for all: ${[...partitions].join(', ')}`);
    const [value] = partitions;
    assert.ok(value !== undefined && Number.isInteger(Number(value)) && Number(value) >= 1 && Number(value) <= 256, `--partitions ${value}`);
    for (const [name, service] of pipeline) assert.ok(commandOf(service).includes('--jetstream'), `${name}: --jetstream`);
    const config = loadClusterConfig({});
    assert.equal(String(config.probe.partitions), value, 'netspectra.yaml agrees too');
  });

  test('only live capture gets capabilities (exactly NET_RAW and NET_ADMIN) and root; nothing is privileged', () => {
    const capturing: string[] = [];
    for (const [file, name, service] of allServices()) {
      const where = `${file}: ${name}`;
      assert.notEqual(service.privileged, true, `${where} is privileged`);
      assert.notEqual(service.pid, 'host', `${where} shares the host's PIDs`);
      if (capturesLive(service)) {
        capturing.push(where);
        assert.deepEqual([...(service.cap_add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW'], `${where}: cap_add`);
        assert.equal(service.network_mode, 'host', `${where} captures the host's interface`);
      } else {
        assert.equal(service.cap_add, undefined, `${where} has cap_add`);
        assert.equal(service.network_mode, undefined, `${where} has network_mode`);
        assert.equal(service.user, undefined, `${where} runs as another user than the image's`);
      }
    }
    assert.deepEqual(capturing, ['compose.yaml: probe', 'compose.embedded.yaml: serve']);
  });

  test('every service but the probes has a healthcheck, and dependencies wait for it', () => {
    for (const file of COMPOSE_FILES) {
      const { services } = composeFiles[file];
      for (const [name, service] of Object.entries(services)) {
        const where = `${file}: ${name}`;
        const hasPort = (service.ports ?? []).length > 0 || (service.expose ?? []).length > 0;
        if (hasPort || !isProbe(service)) assert.ok(healthcheckText(service) !== '' && service.healthcheck?.disable !== true, `${where} has no healthcheck`);
        // a probe has no endpoint: the image's generic check is switched off rather than inherited
        else assert.equal(service.healthcheck?.disable, true, `${where}: healthcheck disabled`);
        assert.ok(!Array.isArray(service.depends_on), `${where}: depends_on with conditions`);
        for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
          assert.equal(condition, 'service_healthy', `${where} → ${dependency}`);
          const target = services[dependency];
          assert.ok(target !== undefined && healthcheckText(target) !== '' && target.healthcheck?.disable !== true, `${where} waits for ${dependency}, which has no healthcheck`);
        }
      }
    }
  });

  test('healthchecks ask the ports the services listen on', () => {
    const config = loadClusterConfig({});
    const portOf = (address: string | undefined): string => address?.split(':').pop() ?? '';
    for (const [file, name, service] of allServices()) {
      const metrics = flag(commandOf(service), '--metrics-listen');
      if (metrics !== undefined) assert.match(healthcheckText(service), new RegExp(`127\\.0\\.0\\.1:${portOf(metrics)}/healthz`), `${file}: ${name}`);
    }
    const api = cluster.services.api!;
    assert.match(healthcheckText(api), new RegExp(`127\\.0\\.0\\.1:${portOf(config.api.httpListenAddr)}/healthz`));
    const apiTargets = (api.ports ?? []).map((port) => String(port).split(':').pop());
    assert.deepEqual(apiTargets.sort(), [portOf(config.api.httpListenAddr), portOf(config.api.rpcListenAddr)].sort(), 'api publishes its listeners');
    const ai = cluster.services.ai!;
    assert.match(healthcheckText(ai), new RegExp(`connect\\(${portOf(config.ai.rpcListenAddr)},`));
    assert.deepEqual((ai.expose ?? []).map(String), [portOf(config.ai.rpcListenAddr)]);
    // the live probe, in the host's network, reaches NATS where Compose publishes it
    const natsUrl = flag(commandOf(cluster.services.probe!), '--nats');
    assert.ok((cluster.services.nats?.ports ?? []).some((port) => String(port).endsWith(`:${portOf(natsUrl)}:4222`)), `NATS is published for ${natsUrl}`);
  });

  test('secrets appear only as ${VAR} references, with no default', () => {
    const reference = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:\?[^}]*|:-)?\}$/;
    for (const [file, name, service] of allServices()) {
      for (const [key, value] of Object.entries(environmentOf(service))) {
        if (SECRET_NAME.test(key)) assert.match(value, reference, `${file}: ${name}: ${key}`);
      }
      for (const [i, argument] of commandOf(service).entries()) {
        if (/password|token|secret|key/i.test(argument) && argument.startsWith('--')) {
          assert.match(commandOf(service)[i + 1] ?? '', reference, `${file}: ${name}: ${argument}`);
        }
      }
    }
    // the cluster configuration: every secret-bearing key
    const config = parseYaml(readText('deploy/compose/netspectra.yaml')) as unknown;
    const secretKey = /^(password|api_key|auth_token|auth_tokens|secret)$/;
    const visit = (node: unknown, key: string): void => {
      if (secretKey.test(key)) for (const value of stringsIn(node)) assert.match(value, /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-)?\}$/, `netspectra.yaml: ${key}`);
      if (node !== null && typeof node === 'object') for (const [child, value] of Object.entries(node)) visit(value, Array.isArray(node) ? key : child);
    };
    visit(config, '');
    // .env.example ships no secret values
    for (const [name, value] of envExampleEntries) if (SECRET_NAME.test(name)) assert.equal(value, '', `.env.example: ${name}`);
  });

  test('.env.example names exactly the variables the Compose files read', () => {
    const referenced = new Set(allServices().flatMap(([, , service]) => stringsIn(service).flatMap(variablesIn)));
    const named = new Set(envExampleEntries.map(([name]) => name));
    assert.deepEqual([...referenced].filter((name) => !named.has(name)).sort(), [], 'read by a Compose file, missing from .env.example');
    assert.deepEqual(
      [...named].filter((name) => !referenced.has(name) && !COMPOSE_OWN_VARIABLES.has(name)).sort(),
      [],
      'in .env.example, read by no Compose file',
    );
    assert.equal(envExampleEntries.length, named.size, '.env.example assigns each variable once');
    // each one is explained: every paragraph that assigns variables has a comment
    for (const paragraph of envExample.split(/\n\s*\n/)) {
      const lines = paragraph.split('\n');
      if (lines.some((line) => /^[A-Za-z_]\w*=/.test(line))) assert.ok(lines.some((line) => line.startsWith('#')), `uncommented in .env.example:\n${paragraph}`);
    }
    const profiles = new Set(Object.values(cluster.services).flatMap((service) => service.profiles ?? []));
    const active = envExampleEntries.find(([name]) => name === 'COMPOSE_PROFILES')?.[1] ?? '';
    for (const profile of active.split(',')) assert.ok(profiles.has(profile), `COMPOSE_PROFILES names the profile ${profile}`);
    assert.deepEqual([...profiles].sort(), ['ai', 'grafana', 'live', 'replay']);
  });

  test('the environment a service passes is what its configuration reads', () => {
    // serve (one machine) reads the shipped configs/config.yaml; Grafana the datasource file
    const shipped = new Set(variablesIn(readText('configs/config.yaml')));
    for (const key of Object.keys(environmentOf(embedded.services.serve!))) assert.ok(shipped.has(key), `configs/config.yaml reads no ${key}`);
    const datasource = new Set(variablesIn(readText('deploy/grafana/provisioning/datasources/netspectra.yaml').replace(/^\s*#.*$/gm, '')));
    const grafana = environmentOf(cluster.services.grafana!);
    for (const name of datasource) assert.ok(name in grafana, `Grafana's datasource reads ${name}`);
    assert.match(grafana.GF_INSTALL_PLUGINS ?? '', /(^|,)simpod-json-datasource\b/);
  });

  test('one image reference for NetSpectra; third-party images pinned to a version', () => {
    const thirdParty: string[] = [];
    for (const [file, name, service] of allServices()) {
      const image = service.image ?? '';
      if (image.includes('NETSPECTRA_IMAGE') || commandOf(service).length > 0 && ['engine', 'probe', 'api', 'ai', 'serve'].includes(commandOf(service)[0] ?? '')) {
        assert.equal(image, IMAGE_REFERENCE, `${file}: ${name}`);
      } else {
        thirdParty.push(name);
        assert.match(image, /^[a-z0-9./-]+:\d+\.\d+\.\d+[\w.-]*$/, `${file}: ${name}: a pinned version, not ${image}`);
      }
    }
    assert.deepEqual(thirdParty.sort(), ['clickhouse', 'grafana', 'nats']);
    assert.match(cluster.services.clickhouse?.image ?? '', /^clickhouse\/clickhouse-server:/, 'the official ClickHouse image');
  });

  test('bind mounts exist in the repository, and Grafana reads its provisioning where it is mounted', () => {
    for (const [file, name, service] of allServices()) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0] ?? '' : (volume.source ?? '');
        if (source.includes('${') || !(source.startsWith('.') || isAbsolute(source))) continue; // a named volume or a user-chosen path
        assert.ok(existsSync(resolve(composeDir, source)), `${file}: ${name}: ${source} does not exist`);
      }
    }
    const provider = parseYaml(readText('deploy/grafana/provisioning/dashboards/netspectra.yaml')) as { providers: { options: { path: string } }[] };
    const targets = (cluster.services.grafana?.volumes ?? []).map((volume) => (typeof volume === 'string' ? volume.split(':')[1] : volume.target));
    assert.ok(targets.includes(provider.providers[0]?.options.path), `the dashboards are mounted at ${provider.providers[0]?.options.path}`);
    assert.ok(targets.includes('/etc/grafana/provisioning/datasources') && targets.includes('/etc/grafana/provisioning/dashboards'));
  });

  test('a finished replay is never restarted (it would count the capture again)', () => {
    for (const [name, service] of Object.entries(cluster.services)) {
      if (commandOf(service).includes('--file')) assert.equal(service.restart, 'no', name);
    }
  });
});
