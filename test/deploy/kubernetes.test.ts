/**
 * deploy/kubernetes: the kustomize base and both overlays render (`kubectl kustomize`), every
 * rendered object validates against the Kubernetes schema (kubernetes-models, plus a check for
 * fields the schema does not know, which `kubectl apply` refuses), and in every rendering the
 * invariants the cluster depends on hold:
 * - the engines run with `--engines` = the StatefulSet's replicas and `--index` = the pod ordinal,
 *   and read the same partitions, format and stream from the same config as the probes, so that
 *   the engines' partitions cover the probes' exactly once;
 * - no secret in a ConfigMap: passwords, tokens and keys are `${VAR}` references that the pods
 *   fill from the Secret, whose keys secrets.example.env lists;
 * - probes (liveness, readiness), requests and limits, security contexts on every container;
 * - one place sets NetSpectra's image; the NetworkPolicies let in from outside the namespace only
 *   the API's HTTP port and Grafana, and let the engines, probes and API reach what they need.
 * kubectl missing: the tests are skipped locally, and fail with CI set.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { parseConfig, type NetSpectraConfig } from '../../src/config/index.js';
import { PartitionOwnership } from '../../src/bus/partition-ownership.js';
import { AI_HELP, API_HELP, ENGINE_HELP, PROBE_HELP } from '../../src/cli/help.js';

// Compiled tests run from dist/test/deploy/; the manifests stay in the source tree.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const kubeRoot = `${repoRoot}deploy/kubernetes/`;
const RENDERINGS = ['base', 'overlays/single-node', 'overlays/production'] as const;
const NAMESPACE = 'netspectra';
const SECRET = 'netspectra-secrets';

const kubectlFound = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 }).error === undefined;
const skip = !kubectlFound && process.env.CI === undefined ? 'kubectl is not installed (with CI set this fails instead)' : false;

// ---------------------------------------------------------------------------------------------
// Rendering and schema validation

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

type ModelClass = new (data: never) => { validate(): void };

const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const rendered = new Map<string, K8sObject[]>();

function render(dir: string): K8sObject[] {
  const cached = rendered.get(dir);
  if (cached !== undefined) return cached;
  assert.ok(kubectlFound, 'kubectl is not installed, and CI must render the Kubernetes manifests (kubectl with kustomize v5)');
  const run = spawnSync('kubectl', ['kustomize', `${kubeRoot}${dir}`], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `kubectl kustomize ${dir} failed: ${run.error?.message ?? run.stderr}`);
  const objects = parseAllDocuments(run.stdout).map((doc) => {
    assert.deepEqual(doc.errors, [], `kubectl kustomize ${dir} printed invalid YAML`);
    return doc.toJS() as K8sObject;
  });
  rendered.set(dir, objects);
  return objects;
}

/**
 * Paths of the fields of `object` that the schema's validator never looked at: fields the schema
 * does not know (a typo, a field of a newer API), which pass kubernetes-models' validate() but
 * which `kubectl apply` refuses (strict field validation). The validator reads every property its
 * schema defines, present or not, and every key of a free-form map; a Proxy notes what it reads.
 */
function unknownFields(model: ModelClass, object: unknown): string[] {
  const read = new WeakMap<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const track = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    let proxy = proxies.get(value);
    if (proxy === undefined) {
      const keys = new Set<string>();
      read.set(value, keys);
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          if (typeof key === 'string') keys.add(key);
          return track(Reflect.get(target, key, receiver));
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };
  // validate() runs the schema's validator on `this`; run it on the tracked object
  (model.prototype as { validate(this: unknown): void }).validate.call(track(object));
  const unknown: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (typeof value !== 'object' || value === null) return;
    const keys = read.get(value);
    if (keys === undefined) return;
    for (const [key, child] of Object.entries(value)) {
      const childPath = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`;
      if (keys.has(key)) walk(child, childPath);
      else unknown.push(childPath);
    }
  };
  walk(object, '');
  return unknown.sort();
}

function validateObject(object: K8sObject): void {
  const name = `${object.kind}/${object.metadata.name}`;
  const model = MODELS[`${object.apiVersion}/${object.kind}`];
  assert.ok(model !== undefined, `${name}: ${object.apiVersion} ${object.kind} has no model in this test: add it to MODELS`);
  assert.doesNotThrow(() => new model(object as never).validate(), `${name} does not validate`);
  assert.deepEqual(unknownFields(model, object), [], `${name} has fields the Kubernetes schema does not know`);
}

// ---------------------------------------------------------------------------------------------
// Looking things up in a rendering

interface Workload {
  kind: string;
  name: string;
  replicas: number | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: IPodSpec;
}

interface NamedContainer {
  workload: Workload;
  container: IContainer;
  /** `Kind/name/container`, for messages. */
  id: string;
}

function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => ['StatefulSet', 'Deployment', 'DaemonSet'].includes(o.kind))
    .map((o) => {
      const spec = o.spec as { replicas?: number; template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec } };
      return {
        kind: o.kind,
        name: o.metadata.name,
        replicas: o.kind === 'DaemonSet' ? undefined : (spec.replicas ?? 1),
        labels: spec.template.metadata?.labels ?? {},
        annotations: spec.template.metadata?.annotations ?? {},
        spec: spec.template.spec,
      };
    });
}

function workload(objects: K8sObject[], kind: string, name: string): Workload {
  const found = workloads(objects).find((w) => w.kind === kind && w.name === name);
  assert.ok(found !== undefined, `${kind}/${name} is not in the rendering`);
  return found;
}

function containers(objects: K8sObject[]): NamedContainer[] {
  return workloads(objects).flatMap((w) => [...(w.spec.initContainers ?? []), ...w.spec.containers].map((c) => ({ workload: w, container: c, id: `${w.kind}/${w.name}/${c.name}` })));
}

function container(w: Workload, name: string): IContainer {
  const found = w.spec.containers.find((c) => c.name === name);
  assert.ok(found !== undefined, `${w.kind}/${w.name} has no container ${name}`);
  return found;
}

function objectsOf<T>(objects: K8sObject[], kind: string): (T & K8sObject)[] {
  return objects.filter((o) => o.kind === kind) as (T & K8sObject)[];
}

function configMapData(objects: K8sObject[], name: string): Record<string, string> {
  const found = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  assert.ok(found !== undefined, `ConfigMap ${name} is not in the rendering`);
  return (found.data as Record<string, string> | undefined) ?? {};
}

/** The value after `--name` (or in `--name=value`), undefined when the flag is not given. */
function flag(c: IContainer, name: string): string | undefined {
  const args = c.args ?? [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === name) return args[i + 1];
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

/** The env var a `$(VAR)` argument refers to (the kubelet expands it), or undefined. */
function envReference(c: IContainer, arg: string | undefined): NonNullable<IContainer['env']>[number] | undefined {
  const match = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(arg ?? '');
  if (match === null) return undefined;
  const env = (c.env ?? []).find((e) => e.name === match[1]);
  assert.ok(env !== undefined, `${arg} refers to no env var of container ${c.name}`);
  return env;
}

/** An argument as the kubelet passes it: `$(VAR)` of a literal env var replaced by its value. */
function literalArg(c: IContainer, arg: string | undefined): string | undefined {
  const env = envReference(c, arg);
  if (env === undefined) return arg;
  assert.ok(env.value !== undefined, `${arg} of container ${c.name} is not a literal value`);
  return env.value;
}

/** The text of the config file a NetSpectra container reads (`--config`), from its ConfigMap. */
function configFileOf(objects: K8sObject[], w: Workload, c: IContainer): { configMap: string; text: string } {
  const path = flag(c, '--config');
  assert.ok(path !== undefined, `${w.name}/${c.name} runs without --config`);
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === posix.dirname(path));
  assert.ok(mount !== undefined, `${w.name}/${c.name}: nothing is mounted at ${posix.dirname(path)}`);
  const volume = (w.spec.volumes ?? []).find((v) => v.name === mount.name);
  const configMap = volume?.configMap?.name;
  assert.ok(configMap !== undefined, `${w.name}/${c.name}: ${posix.dirname(path)} is not a ConfigMap`);
  const text = configMapData(objects, configMap)[posix.basename(path)];
  assert.ok(text !== undefined, `ConfigMap ${configMap} has no ${posix.basename(path)}`);
  return { configMap, text };
}

/** Env of a container with every Secret reference replaced by a stand-in of a valid length. */
function standInEnv(c: IContainer): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env ?? []) env[e.name] = e.value ?? (e.valueFrom?.secretKeyRef !== undefined ? `stand-in-for-${e.valueFrom.secretKeyRef.key}-0123456789` : 'from-the-downward-api');
  return env;
}

const isNetSpectra = (c: IContainer, image: string): boolean => c.image === image;

function netSpectraImage(): string {
  const kustomization = parseYaml(readFileSync(`${kubeRoot}base/kustomization.yaml`, 'utf8')) as { images?: { name: string; newName?: string; newTag?: string }[] };
  const entry = (kustomization.images ?? []).find((i) => i.name === 'netspectra');
  assert.ok(entry?.newName !== undefined && entry.newTag !== undefined, 'base/kustomization.yaml sets no image for netspectra');
  return `${entry.newName}:${entry.newTag}`;
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicy semantics (what the network plugin enforces), enough for these policies

type ILabelSelector = NonNullable<INetworkPolicy['spec']>['podSelector'];

type Source =
  | { kind: 'pod'; namespace: string; labels: Record<string, string> }
  /** an address outside the pod network: a node (the probes' host network) or the internet */
  | { kind: 'address'; ip: string };

function selects(selector: ILabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = labels[e.key];
    const ok = e.operator === 'In' ? value !== undefined && (e.values ?? []).includes(value) : e.operator === 'NotIn' ? value === undefined || !(e.values ?? []).includes(value) : e.operator === 'Exists' ? value !== undefined : value === undefined;
    if (!ok) return false;
  }
  return true;
}

function ipv4(text: string): number {
  const parts = text.split('.').map(Number);
  assert.ok(parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255), `not an IPv4 address: ${text}`);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

function peerAdmits(peer: INetworkPolicyPeer, source: Source): boolean {
  if (peer.ipBlock !== undefined) return source.kind === 'address' && inCidr(source.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(source.ip, c));
  if (source.kind !== 'pod') return false;
  const namespaceLabels = { 'kubernetes.io/metadata.name': source.namespace };
  // podSelector alone: pods of the policy's namespace; with namespaceSelector: of those namespaces
  const namespaceOk = peer.namespaceSelector === undefined ? source.namespace === NAMESPACE : selects(peer.namespaceSelector, namespaceLabels);
  return namespaceOk && (peer.podSelector === undefined || selects(peer.podSelector, source.labels));
}

function ingressAllowed(policies: INetworkPolicy[], target: Workload, port: number, source: Source): boolean {
  const ports = target.spec.containers.flatMap((c) => c.ports ?? []);
  assert.ok(ports.some((p) => p.containerPort === port), `${target.name} listens on no port ${port}`);
  const isolating = policies.filter((p) => selects(p.spec?.podSelector, target.labels) && (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (isolating.length === 0) return true;
  return isolating.some((p) =>
    (p.spec?.ingress ?? []).some((rule) => {
      const portOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((rp) => (rp.protocol ?? 'TCP') === 'TCP' && (rp.port === undefined || rp.port === port || ports.some((cp) => cp.name === rp.port && cp.containerPort === port)));
      const fromOk = rule.from === undefined || rule.from.length === 0 || rule.from.some((peer) => peerAdmits(peer, source));
      return portOk && fromOk;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Quantities, for requests <= limits

function cpuCores(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

function bytes(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  assert.ok(match !== null, `not a memory quantity: ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

// ---------------------------------------------------------------------------------------------

test('the unknown-field check finds a misspelt field and passes a correct object', () => {
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'x', labels: { a: 'b' } },
    spec: { serviceName: 'x', podManagementPolicy: 'Parallel', selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', args: ['--x'] }] } } },
  };
  assert.deepEqual(unknownFields(StatefulSet, statefulSet), []);
  const misspelt = structuredClone(statefulSet) as typeof statefulSet & { spec: { podManagmentPolicy?: string } };
  misspelt.spec.podManagmentPolicy = 'Parallel';
  (misspelt.spec.template.spec.containers[0] as Record<string, unknown>).readinesProbe = {};
  assert.deepEqual(unknownFields(StatefulSet, misspelt), ['.spec.podManagmentPolicy', '.spec.template.spec.containers[0].readinesProbe']);
  // and validate() itself rejects wrong types
  assert.throws(() => new StatefulSet({ ...statefulSet, spec: { ...statefulSet.spec, replicas: '2' } } as never).validate(), /replicas must be integer/);
});

test('the NetworkPolicy evaluator: isolation, ports by number and name, peers', () => {
  const target: Workload = { kind: 'Deployment', name: 't', replicas: 1, labels: { app: 't' }, annotations: {}, spec: { containers: [{ name: 'c', ports: [{ name: 'web', containerPort: 80 }, { containerPort: 81 }] }] } };
  const inside: Source = { kind: 'pod', namespace: NAMESPACE, labels: { app: 'x' } };
  const elsewhere: Source = { kind: 'pod', namespace: 'other', labels: { app: 'x' } };
  assert.equal(ingressAllowed([], target, 80, elsewhere), true, 'no policy: not isolated');
  const deny: INetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'd' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
  assert.equal(ingressAllowed([deny], target, 80, inside), false);
  const web: INetworkPolicy = { ...deny, spec: { podSelector: { matchLabels: { app: 't' } }, ingress: [{ ports: [{ port: 'web' }] }, { from: [{ podSelector: { matchLabels: { app: 'x' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] } }] }] } };
  assert.equal(ingressAllowed([deny, web], target, 80, elsewhere), true, 'named port from anywhere');
  assert.equal(ingressAllowed([deny, web], target, 81, elsewhere), false, 'a podSelector alone means this namespace');
  assert.equal(ingressAllowed([deny, web], target, 81, inside), true);
  assert.equal(ingressAllowed([deny, web], target, 81, { kind: 'address', ip: '10.1.2.3' }), true);
  assert.equal(ingressAllowed([deny, web], target, 81, { kind: 'address', ip: '10.9.2.3' }), false, 'except');
  assert.equal(ingressAllowed([deny, web], target, 81, { kind: 'address', ip: '11.1.2.3' }), false);
});

test('the Grafana provisioning copies in deploy/kubernetes/base/grafana are the files of deploy/grafana', () => {
  const copies = { 'datasource.yaml': 'provisioning/datasources/netspectra.yaml', 'dashboards.yaml': 'provisioning/dashboards/netspectra.yaml', 'netspectra.json': 'dashboards/netspectra.json' };
  for (const [copy, original] of Object.entries(copies)) {
    assert.equal(readFileSync(`${kubeRoot}base/grafana/${copy}`, 'utf8'), readFileSync(`${repoRoot}deploy/grafana/${original}`, 'utf8'), `base/grafana/${copy} differs from deploy/grafana/${original}: copy it again`);
  }
});

test('only the base kustomization sets an image; overlays change counts and sizes, not images', () => {
  for (const dir of RENDERINGS.filter((d) => d !== 'base')) {
    const kustomization = parseYaml(readFileSync(`${kubeRoot}${dir}/kustomization.yaml`, 'utf8')) as Record<string, unknown>;
    assert.equal(kustomization.images, undefined, `${dir}/kustomization.yaml sets images: the base's images: is the one place`);
  }
  assert.match(netSpectraImage(), /^localhost\/netspectra:\d+\.\d+\.\d+$/);
});

for (const dir of RENDERINGS) {
  describe(`deploy/kubernetes/${dir}`, { skip }, () => {
    test('renders, and every object validates against the Kubernetes schema, with no unknown field', () => {
      const objects = render(dir);
      assert.ok(objects.length > 20, `only ${objects.length} objects rendered`);
      for (const object of objects) validateObject(object);
      const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.equal(new Set(names).size, names.length, 'an object is rendered twice');
    });

    test('everything is in the netspectra namespace; the Secret is referred to, never shipped', () => {
      const objects = render(dir);
      for (const o of objects) {
        if (o.kind === 'Namespace') assert.equal(o.metadata.name, NAMESPACE);
        else assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
      }
      assert.equal(objects.filter((o) => o.kind === 'Secret').length, 0, 'a Secret with values is rendered');
      for (const [kind, name] of [['StatefulSet', 'netspectra-nats'], ['StatefulSet', 'netspectra-clickhouse'], ['StatefulSet', 'netspectra-engine'], ['DaemonSet', 'netspectra-probe'], ['Deployment', 'netspectra-api'], ['Deployment', 'netspectra-ai'], ['Deployment', 'netspectra-grafana']] as const) workload(objects, kind, name);
    });

    test('engines: --engines is the replica count, --index the pod ordinal, and together they own every partition of the probes once', () => {
      const objects = render(dir);
      const engines = workload(objects, 'StatefulSet', 'netspectra-engine');
      const engine = container(engines, 'engine');
      const count = engines.replicas ?? 1;
      assert.equal(literalArg(engine, flag(engine, '--engines')), String(count), '--engines is not spec.replicas');
      assert.equal(envReference(engine, flag(engine, '--index'))?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['apps.kubernetes.io/pod-index']", '--index is not the pod ordinal');
      assert.equal(envReference(engine, flag(engine, '--engine-id'))?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', '--engine-id is not the (unique, stable) pod name');
      const sts = objectsOf<IStatefulSet>(objects, 'StatefulSet').find((s) => s.metadata.name === 'netspectra-engine');
      assert.equal(sts?.spec?.serviceName, 'netspectra-engine');

      // Probes and engines share format, partitions, subject, stream and NATS through one config
      const probes = workload(objects, 'DaemonSet', 'netspectra-probe');
      const probe = container(probes, 'probe');
      const engineConfig = configFileOf(objects, engines, engine);
      const probeConfig = configFileOf(objects, probes, probe);
      assert.equal(engineConfig.configMap, probeConfig.configMap, 'probes and engines read different ConfigMaps');
      for (const shared of ['--nats', '--subject', '--format', '--partitions', '--jetstream', '--stream']) {
        assert.equal(flag(engine, shared), flag(probe, shared), `${shared} differs between probes and engines`);
        assert.equal(flag(engine, shared), undefined, `${shared} is set on the command line: keep it in the shared config`);
      }
      const config = parseConfig(engineConfig.text, { file: 'config.yaml', env: standInEnv(engine) });
      const partitions = config.probe.partitions;
      assert.ok(count <= partitions, `${count} engines for ${partitions} partitions: some would own nothing`);
      const owners = new Array<number>(partitions).fill(0);
      for (let index = 0; index < count; index++) for (const p of PartitionOwnership.roundRobin(partitions, count, index).owned) owners[p] = (owners[p] ?? 0) + 1;
      assert.deepEqual(owners, new Array<number>(partitions).fill(1), 'the engines do not own every partition exactly once');
      // several engines elect a leader through JetStream; durable mode needs it too
      if (count > 1 || config.probe.jetstream) assert.ok(container(workload(objects, 'StatefulSet', 'netspectra-nats'), 'nats').args?.includes('-js'), 'NATS runs without JetStream');
      assert.ok(config.probe.streamMaxAgeMs > config.aggregator.periodMs, 'the stream keeps less than one period: a restarted engine could not replay it');
    });

    test('the config parses, and its addresses are the Services and ports of the rendering', () => {
      const objects = render(dir);
      const services = objectsOf<IService>(objects, 'Service');
      const servicePort = (address: string): void => {
        const match = /^(?:[a-z]+:\/\/)?([^:/]+):(\d+)$/.exec(address);
        assert.ok(match !== null, `not host:port: ${address}`);
        const service = services.find((s) => s.metadata.name === match[1]);
        assert.ok(service !== undefined, `${address}: no Service ${match[1]}`);
        assert.ok((service.spec?.ports ?? []).some((p) => p.port === Number(match[2])), `${address}: Service ${match[1]} has no port ${match[2]}`);
      };
      for (const { workload: w, container: c } of containers(objects).filter((n) => isNetSpectra(n.container, netSpectraImage()))) {
        const config: NetSpectraConfig = parseConfig(configFileOf(objects, w, c).text, { file: 'config.yaml', env: standInEnv(c) });
        servicePort(config.probe.natsUrl);
        servicePort(config.alerter.aiAnalysis.serviceAddr);
        for (const writer of [...config.aggregator.exact.writers, ...config.aggregator.sketch.writers].filter((wr) => wr.enabled)) {
          assert.equal(writer.type, 'clickhouse', 'an engine writes a local file the API cannot read');
          servicePort(`${writer.clickhouse?.host}:${writer.clickhouse?.port}`);
        }
        const listens = (address: string, on: string): void => {
          const port = Number(address.split(':').pop());
          assert.match(address, /^0\.0\.0\.0:/, `${on} listens on loopback only`);
          assert.ok(container(workload(objects, 'Deployment', on), on.replace('netspectra-', '')).ports?.some((p) => p.containerPort === port), `${on} does not expose ${port}`);
        };
        listens(config.api.httpListenAddr, 'netspectra-api');
        listens(config.api.rpcListenAddr, 'netspectra-api');
        listens(config.ai.rpcListenAddr, 'netspectra-ai');
      }
      // every Service selects pods and names ports they have
      for (const service of services) {
        const pods = workloads(objects).filter((w) => selects({ matchLabels: service.spec?.selector ?? {} }, w.labels));
        assert.equal(pods.length, 1, `Service ${service.metadata.name} selects ${pods.length} workloads`);
        for (const port of service.spec?.ports ?? []) {
          const target = port.targetPort ?? port.port;
          assert.ok(pods[0]?.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === target || cp.containerPort === target)), `Service ${service.metadata.name}: no container port ${target}`);
        }
      }
    });

    test('no secret in a ConfigMap: passwords, tokens and keys are ${VAR} references the pods fill from the Secret', () => {
      const objects = render(dir);
      // a key (YAML, .conf, .env; also in comments and list items) named like a secret, and its value
      const secretLike = /^\s*(?:#\s*)?(?:-\s+)?["']?[\w.-]*(password|passwd|secret|token|api_?key)s?["']?\s*[:=]\s*(.*)$/i;
      for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
        for (const [key, text] of Object.entries((cm.data as Record<string, string> | undefined) ?? {})) {
          assert.doesNotMatch(key, /password|secret|token|key$/i, `ConfigMap ${cm.metadata.name} has a key named like a secret: ${key}`);
          for (const line of text.split('\n')) {
            const match = secretLike.exec(line);
            if (match !== null) {
              const value = (match[2] ?? '').replace(/\s+#.*$/, '').trim();
              assert.match(value, /^(|""|''|\[\]|"?\$\{[A-Z0-9_]+(:-)?\}"?)$/, `ConfigMap ${cm.metadata.name}/${key} holds a secret-looking value: ${line.trim()}`);
            }
            assert.doesNotMatch(line, /<password>[^<]/, `ConfigMap ${cm.metadata.name}/${key}: a password in XML (use from_env)`);
            assert.doesNotMatch(line, /Bearer (?!\$\{)/, `ConfigMap ${cm.metadata.name}/${key}: a bearer token that is not a \${VAR}`);
          }
        }
      }
      // With an empty environment the NetSpectra config holds no secret at all...
      const engine = workload(objects, 'StatefulSet', 'netspectra-engine');
      const config = parseConfig(configFileOf(objects, engine, container(engine, 'engine')).text, { file: 'config.yaml', env: {} });
      assert.deepEqual(config.api.authTokens, []);
      assert.equal(config.ai.apiKey, '');
      assert.equal(config.ai.authToken, '');
      assert.equal(config.smtp.password, '');
      for (const writer of [...config.aggregator.exact.writers, ...config.aggregator.sketch.writers]) assert.equal(writer.clickhouse?.password ?? '', '');
      for (const webhook of config.alerter.notifiers.webhooks) assert.equal(webhook.secret, '');
      // ... and every env var named like a secret comes from the Secret, whose keys the example lists
      const example = readFileSync(`${kubeRoot}secrets.example.env`, 'utf8');
      const [requiredPart = '', optionalPart = ''] = example.split(/^# Optional/m);
      const keysIn = (part: string): string[] => [...part.matchAll(/^([a-z0-9-]+)=$/gm)].map((m) => m[1] ?? '').sort();
      const required = new Set<string>();
      const optional = new Set<string>();
      for (const { id, container: c } of containers(objects)) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|TOKEN|SECRET|API_KEY/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef !== undefined, `${id}: ${e.name} does not come from the Secret`);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref === undefined) continue;
          assert.equal(ref.name, SECRET, `${id}: ${e.name} comes from another Secret`);
          (ref.optional === true ? optional : required).add(ref.key);
        }
        assert.equal(c.envFrom, undefined, `${id}: envFrom hides which keys a pod gets`);
      }
      for (const key of required) optional.delete(key);
      assert.deepEqual(keysIn(requiredPart), [...required].sort(), 'secrets.example.env: the required keys differ from those the pods need');
      assert.deepEqual(keysIn(optionalPart), [...optional].sort(), 'secrets.example.env: the optional keys differ from those the pods may use');
      // the API must never start without its token: it is reachable from outside the namespace
      const api = container(workload(objects, 'Deployment', 'netspectra-api'), 'api');
      const token = (api.env ?? []).find((e) => e.name === 'NETSPECTRA_API_TOKEN')?.valueFrom?.secretKeyRef;
      assert.ok(token !== undefined && token.optional !== true, 'the API may start without a token');
      assert.deepEqual(parseConfig(configFileOf(objects, workload(objects, 'Deployment', 'netspectra-api'), api).text, { file: 'config.yaml', env: standInEnv(api) }).api.authTokens.length, 1);
    });

    test('every container has liveness and readiness probes (the capture probe excepted), requests and limits', () => {
      const objects = render(dir);
      // The capture probe serves no endpoint and receives no traffic: there is nothing to ask, and
      // a process that fails exits (the DaemonSet restarts it).
      const withoutProbes = new Set(['DaemonSet/netspectra-probe/probe']);
      for (const { id, container: c, workload: w } of containers(objects)) {
        if (withoutProbes.has(id)) {
          assert.equal(c.ports, undefined, `${id} has ports: give it probes`);
        } else {
          for (const [kind, probe] of [['liveness', c.livenessProbe], ['readiness', c.readinessProbe]] as const) {
            assert.ok(probe !== undefined, `${id} has no ${kind} probe`);
            const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
            assert.ok(port !== undefined, `${id}: the ${kind} probe is neither httpGet nor tcpSocket`);
            assert.ok((c.ports ?? []).some((p) => p.name === port || p.containerPort === port), `${id}: the ${kind} probe asks port ${port}, which the container does not expose`);
          }
        }
        const { requests, limits } = c.resources ?? {};
        for (const resource of ['cpu', 'memory']) {
          const request = requests?.[resource];
          const limit = limits?.[resource];
          assert.ok(request !== undefined && limit !== undefined, `${id}: ${resource} request and limit`);
          const measure = resource === 'cpu' ? cpuCores : bytes;
          assert.ok(measure(request) <= measure(limit), `${id}: ${resource} request ${request} above its limit ${limit}`);
        }
        assert.ok(w.spec.terminationGracePeriodSeconds === undefined || w.spec.terminationGracePeriodSeconds >= 30, `${id}: too little time for a clean stop`);
      }
      // NetSpectra's own endpoints: /healthz and /readyz of the API, the engines' /healthz
      const api = container(workload(objects, 'Deployment', 'netspectra-api'), 'api');
      assert.equal(api.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(api.readinessProbe?.httpGet?.path, '/readyz');
      const engine = container(workload(objects, 'StatefulSet', 'netspectra-engine'), 'engine');
      assert.equal(engine.readinessProbe?.httpGet?.path, '/healthz');
      const metricsPort = engine.ports?.find((p) => p.name === engine.readinessProbe?.httpGet?.port)?.containerPort;
      assert.equal(flag(engine, '--metrics-listen'), `0.0.0.0:${metricsPort}`, 'the engine serves /healthz elsewhere than its probes ask');
    });

    test('security: non-root, no privilege escalation, all capabilities dropped, read-only root with writable volumes', () => {
      const objects = render(dir);
      const image = netSpectraImage();
      const capture = 'DaemonSet/netspectra-probe/probe';
      for (const { id, container: c, workload: w } of containers(objects)) {
        const pod = w.spec.securityContext ?? {};
        const sc = c.securityContext ?? {};
        assert.equal(w.spec.automountServiceAccountToken, false, `${id}: no pod here talks to the Kubernetes API`);
        assert.equal(pod.seccompProfile?.type, 'RuntimeDefault', `${id}: seccomp`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${id}: allowPrivilegeEscalation`);
        assert.notEqual(sc.privileged, true, `${id}: privileged`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${id}: readOnlyRootFilesystem`);
        assert.ok(sc.capabilities?.drop?.includes('ALL'), `${id}: capabilities are not all dropped`);
        const uid = sc.runAsUser ?? pod.runAsUser;
        if (id === capture) {
          // uid 0 with four capabilities: Kubernetes grants added capabilities to uid 0 only, and
          // Debian's tcpdump opens the interface, then drops to its own user (SETUID, SETGID)
          assert.equal(uid, 0);
          assert.deepEqual([...(sc.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW', 'SETGID', 'SETUID']);
          assert.equal(w.spec.hostNetwork, true, 'the probe captures the node traffic: host network');
          assert.equal(w.spec.dnsPolicy, 'ClusterFirstWithHostNet', 'the probe must resolve the NATS Service');
        } else {
          assert.equal(sc.runAsNonRoot ?? pod.runAsNonRoot, true, `${id}: runAsNonRoot`);
          assert.ok(uid !== undefined && uid > 0, `${id}: runs as uid ${uid}`);
          assert.equal(sc.capabilities?.add, undefined, `${id} adds capabilities`);
          assert.notEqual(w.spec.hostNetwork, true, `${id}: host network`);
        }
        if (isNetSpectra(c, image)) {
          if (id !== capture) assert.equal(uid, 10001, `${id}: the image's user is 10001`);
          for (const path of ['/var/lib/netspectra', '/tmp']) {
            const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === path);
            assert.ok(mount !== undefined && mount.readOnly !== true, `${id}: ${path} is not writable`);
            const volume = (w.spec.volumes ?? []).find((v) => v.name === mount.name);
            const claim = w.kind === 'StatefulSet' && volume === undefined;
            assert.ok(claim || volume?.emptyDir !== undefined, `${id}: ${path} is neither an emptyDir nor a volume claim`);
          }
        }
      }
    });

    test('one image for NetSpectra, from the kustomization; third-party images pinned', () => {
      const objects = render(dir);
      const image = netSpectraImage();
      const netspectra = containers(objects).filter((n) => isNetSpectra(n.container, image));
      assert.deepEqual(netspectra.map((n) => n.id).sort(), ['DaemonSet/netspectra-probe/probe', 'Deployment/netspectra-ai/ai', 'Deployment/netspectra-api/api', 'StatefulSet/netspectra-engine/engine']);
      for (const { id, container: c } of containers(objects)) {
        if (isNetSpectra(c, image)) continue;
        assert.match(c.image ?? '', /^[a-z0-9./-]+:\d+\.\d+\.\d+(\.\d+)?$/, `${id}: ${c.image} is not pinned to a release`);
      }
      // the manifests name NetSpectra's image only through the kustomization's `images:`
      for (const file of ['engine.yaml', 'probe.yaml', 'api.yaml', 'ai.yaml']) {
        assert.deepEqual([...readFileSync(`${kubeRoot}base/${file}`, 'utf8').matchAll(/image: (\S+)/g)].map((m) => m[1]), ['netspectra'], `base/${file}`);
      }
    });

    test('the commands use flags their --help lists; the engine and probe arguments are complete', () => {
      const objects = render(dir);
      const help: Record<string, string> = { engine: ENGINE_HELP, probe: PROBE_HELP, api: API_HELP, ai: AI_HELP };
      for (const { id, container: c } of containers(objects).filter((n) => isNetSpectra(n.container, netSpectraImage()))) {
        const [command = '', ...rest] = c.args ?? [];
        assert.equal(c.command, undefined, `${id}: the image's entrypoint (node, PID 1) must stay`);
        const text = help[command];
        assert.ok(text !== undefined, `${id}: unexpected command ${command}`);
        for (const arg of rest.filter((a) => a.startsWith('-'))) assert.match(text, new RegExp(`\\s${arg.split('=')[0]}\\s`), `${id}: ${arg} is not a flag of netspectra ${command}`);
        for (const arg of rest) {
          const env = envReference(c, arg);
          if (env !== undefined) assert.ok(env.value !== undefined || env.valueFrom !== undefined, `${id}: ${arg} is empty`);
        }
      }
      const probe = container(workload(objects, 'DaemonSet', 'netspectra-probe'), 'probe');
      assert.equal(envReference(probe, flag(probe, '--iface'))?.valueFrom?.configMapKeyRef?.key, 'iface');
      const probeSettings = configMapData(objects, envReference(probe, flag(probe, '--iface'))?.valueFrom?.configMapKeyRef?.name ?? '');
      assert.ok((probeSettings.iface ?? '') !== '', 'no capture interface');
      assert.match(probeSettings.filter ?? '', /4222/, "the probes' filter keeps their own NATS traffic out");
    });

    test('NetworkPolicies: from outside only the API and Grafana; engines and probes reach NATS; engines and the API reach ClickHouse', () => {
      const objects = render(dir);
      const policies = objectsOf<INetworkPolicy>(objects, 'NetworkPolicy');
      const deny = policies.find((p) => p.metadata.name === 'default-deny-ingress');
      assert.deepEqual(deny?.spec, { podSelector: {}, policyTypes: ['Ingress'] });
      const pod = (name: string): Source => ({ kind: 'pod', namespace: NAMESPACE, labels: workloads(objects).find((w) => w.name === name)?.labels ?? {} });
      const target = (name: string): Workload => workloads(objects).find((w) => w.name === name) ?? assert.fail(`no ${name}`);
      const allowed = (to: string, port: number, from: Source): boolean => ingressAllowed(policies, target(to), port, from);

      const internet: Source = { kind: 'address', ip: '203.0.113.7' };
      const otherNamespace: Source = { kind: 'pod', namespace: 'tenant', labels: { 'app.kubernetes.io/part-of': 'netspectra', 'app.kubernetes.io/component': 'engine' } };
      const open = new Set(['netspectra-api:8080', 'netspectra-grafana:3000']);
      for (const w of workloads(objects).filter((x) => x.spec.hostNetwork !== true)) {
        for (const port of w.spec.containers.flatMap((c) => c.ports ?? []).map((p) => p.containerPort)) {
          const key = `${w.name}:${port}`;
          assert.equal(allowed(w.name, port, internet), open.has(key), `${key} from the internet`);
          assert.equal(allowed(w.name, port, otherNamespace), open.has(key), `${key} from another namespace`);
        }
      }
      const node: Source = { kind: 'address', ip: '10.20.0.4' }; // a probe, on its node's address
      assert.ok(allowed('netspectra-nats', 4222, pod('netspectra-engine')), 'engine -> NATS');
      assert.ok(allowed('netspectra-nats', 4222, node), 'probe (host network) -> NATS');
      assert.ok(allowed('netspectra-nats', 4222, pod('netspectra-probe')), 'probe (network plugins that see its pod) -> NATS');
      assert.ok(allowed('netspectra-clickhouse', 8123, pod('netspectra-engine')), 'engine -> ClickHouse');
      assert.ok(allowed('netspectra-clickhouse', 8123, pod('netspectra-api')), 'API -> ClickHouse');
      assert.ok(allowed('netspectra-ai', 50052, pod('netspectra-engine')), 'engine (alerter) -> AI');
      assert.ok(allowed('netspectra-api', 8080, pod('netspectra-grafana')), 'Grafana -> API');
      assert.ok(allowed('netspectra-api', 50051, pod('netspectra-engine')), 'Thrift from inside the namespace');
      assert.ok(!allowed('netspectra-nats', 4222, pod('netspectra-api')), 'API -> NATS');
      assert.ok(!allowed('netspectra-clickhouse', 8123, pod('netspectra-grafana')), 'Grafana -> ClickHouse');
      assert.ok(!allowed('netspectra-clickhouse', 8123, pod('netspectra-ai')), 'AI -> ClickHouse');
      assert.ok(!allowed('netspectra-clickhouse', 8123, node), 'node -> ClickHouse');
      assert.ok(!allowed('netspectra-ai', 50052, pod('netspectra-api')), 'API -> AI');
      const prometheus: Source = { kind: 'pod', namespace: 'monitoring', labels: { app: 'prometheus' } };
      assert.ok(allowed('netspectra-engine', 9464, prometheus), 'Prometheus -> engine metrics');
      assert.ok(allowed('netspectra-clickhouse', 9363, prometheus), 'Prometheus -> ClickHouse metrics');
      assert.ok(!allowed('netspectra-clickhouse', 8123, prometheus), 'Prometheus -> ClickHouse queries');
    });

    test('Prometheus annotations on the pods that serve /metrics, naming a port they expose', () => {
      const objects = render(dir);
      const scraped = workloads(objects).filter((w) => w.annotations['prometheus.io/scrape'] === 'true');
      assert.deepEqual(scraped.map((w) => w.name).sort(), ['netspectra-api', 'netspectra-clickhouse', 'netspectra-engine', 'netspectra-grafana']);
      for (const w of scraped) {
        assert.equal(w.annotations['prometheus.io/path'], '/metrics', w.name);
        assert.ok(w.spec.containers.some((c) => (c.ports ?? []).some((p) => String(p.containerPort) === w.annotations['prometheus.io/port'])), `${w.name}: prometheus.io/port is not a container port`);
      }
    });

    test('the engines have a PodDisruptionBudget that still lets a drain evict a lone engine', () => {
      const objects = render(dir);
      const engines = workload(objects, 'StatefulSet', 'netspectra-engine');
      const budgets = objectsOf<IPodDisruptionBudget>(objects, 'PodDisruptionBudget').filter((b) => selects(b.spec?.selector, engines.labels));
      assert.equal(budgets.length, 1);
      const spec = budgets[0]?.spec;
      const count = engines.replicas ?? 1;
      const allowedDisruptions = spec?.maxUnavailable !== undefined ? Number(spec.maxUnavailable) : count - Number(spec?.minAvailable ?? 0);
      assert.ok(allowedDisruptions >= 1 && allowedDisruptions <= Math.max(1, Math.floor(count / 2)), `${allowedDisruptions} engines of ${count} may be evicted at once`);
    });
  });
}

describe('overlay differences', { skip }, () => {
  const engineCount = (dir: string): number => workload(render(dir), 'StatefulSet', 'netspectra-engine').replicas ?? 1;
  const engineCpu = (dir: string): number => cpuCores(container(workload(render(dir), 'StatefulSet', 'netspectra-engine'), 'engine').resources?.requests?.cpu ?? 0);

  test('single-node: one engine, which owns every partition, on small requests', () => {
    assert.equal(engineCount('overlays/single-node'), 1);
    assert.ok(engineCpu('overlays/single-node') < engineCpu('overlays/production'));
  });

  test('production: four engines spread over the nodes, probes on the chosen nodes, more resources', () => {
    const objects = render('overlays/production');
    assert.equal(engineCount('overlays/production'), 4);
    const engines = workload(objects, 'StatefulSet', 'netspectra-engine');
    const terms = engines.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(terms.some((t) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && selects(t.podAffinityTerm.labelSelector, engines.labels)), 'engines are not spread over the nodes');
    assert.equal(workload(objects, 'DaemonSet', 'netspectra-probe').spec.nodeSelector?.['netspectra.io/probe'], 'true');
    assert.ok(engineCpu('overlays/production') > engineCpu('base'));
    const claim = (dir: string): number => bytes(objectsOf<IStatefulSet>(render(dir), 'StatefulSet').find((s) => s.metadata.name === 'netspectra-clickhouse')?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage ?? 0);
    assert.ok(claim('overlays/production') > claim('overlays/single-node'));
  });
});
