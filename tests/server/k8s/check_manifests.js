'use strict';
/*
 * check_manifests.js - checks deploy/k8s as `kubectl apply -k` sends it:
 * the rendered manifests (kubectl kustomize) and the Secrets that
 * deploy/k8s/secrets.sh makes, against the Kubernetes API schemas and
 * against what fedrec-aggregator will do with them.
 *
 * DESIGN
 * - Schemas (schema.js): kubernetes-models (npm, pinned in
 *   package-lock.json) ships the Kubernetes OpenAPI schemas compiled to
 *   validators: types, required fields, enums, quantity and int-or-string
 *   formats. They accept unknown fields, so every object is handed to the
 *   validator behind a Proxy that records which properties it read: a
 *   property it never read is not in the schema (a typo such as
 *   readOnlyRootFileSystem) and is reported.
 * - Pods (pod.js): each StatefulSet's pod is "materialised" into a
 *   virtual file tree: ConfigMap and Secret files at their mounts with the
 *   modes the kubelet gives them (fsGroup adds group read to a Secret's
 *   files), the init containers' `install -m MODE SRC... DIR/` copies
 *   replayed. The aggregator's configuration (from its ConfigMap) is then
 *   read as the daemon reads it, and every path, port and limit it names is checked
 *   against that tree, the container's ports, probes, annotations and the
 *   Services.
 * - The daemon's own parser: each configuration runs through
 *   `fedrec-aggregator --check-config` with its paths moved under a
 *   directory that holds the materialised files (real keys from
 *   secrets.sh, modes as in the pod).
 * - Sub-checks are named; --xfail NAME_PREFIX=REGEX marks the ones
 *   expected to fail, and they pass only if every problem matches REGEX.
 *   One that passes is a failure, so the list cannot go stale.
 * - Self-test (selftest.js): broken variants of the manifests (a probe on
 *   the wrong port, a typo in a field, a key file readable by the group,
 *   ...), each of which the check it names must catch.
 */
const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const crypto = require('crypto');
const YAML = require('yaml');
const {schemaProblems} = require('./schema.js');
const {named, signPath, secretData, volumeContents, mountOf, aggregatorContainer,
       configOf} = require('./pod.js');
const {MUTATIONS} = require('./selftest.js');

const REGIONAL_MEMORY_LIMIT = 512 * 1024 * 1024;
// Keys of mode regional that name files, and their defaults.
const SECRET_FILE_KEYS = ['key_file', 'upstream_key_file', 'upstream_sign_key_file'];
const FILE_KEYS = ['allowlist', 'upstream_server_key', 'catalogue', ...SECRET_FILE_KEYS];

/* ---- arguments --------------------------------------------------------- */

function parseArgs(argv) {
  const a = {xfail: []};
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (v === undefined) throw new Error(`option ${argv[i]} needs a value`);
    if (k === 'xfail') {
      const eq = v.indexOf('=');
      if (eq < 1) throw new Error(`--xfail ${v}: expected NAME_PREFIX=REGEX`);
      a.xfail.push({prefix: v.slice(0, eq), re: new RegExp(v.slice(eq + 1))});
    } else {
      a[k] = v;
    }
  }
  for (const k of ['src', 'rendered', 'secrets', 'keys', 'central-lines', 'aggregator',
                   'work', 'regions']) {
    if (!a[k]) throw new Error(`missing --${k}`);
  }
  return a;
}

/* ---- small helpers ----------------------------------------------------- */

const NAMESPACED = new Set(['ConfigMap', 'Secret', 'Service', 'StatefulSet', 'Deployment',
                            'NetworkPolicy', 'PersistentVolumeClaim', 'ServiceAccount']);


function selects(selector, labels) {
  const keys = Object.keys(selector || {});
  return keys.length > 0 && keys.every(k => labels && labels[k] === selector[k]);
}

function bytes(q) {
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return NaN;
  const mul = {Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9,
               T: 1e12}[m[2]] || 1;
  return Number(m[1]) * mul;
}

function cpu(q) {
  const m = /^([0-9.]+)(m)?$/.exec(String(q));
  return m ? Number(m[1]) / (m[2] ? 1000 : 1) : NaN;
}

function hostPort(s, what) {
  const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:\/]+):(\d+)$/.exec(s || '');
  if (!m) throw new Error(`${what} '${s}': expected [tcp://]HOST:PORT`);
  return {host: m[1], port: Number(m[2])};
}

// The public halves of secret key files (hex), as fedrec-keygen derives them.
function x25519Public(hex) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'),
                             Buffer.from(hex.trim(), 'hex')]);
  const pub = crypto.createPublicKey(crypto.createPrivateKey({key: der, format: 'der',
                                                              type: 'pkcs8'}));
  return pub.export({format: 'der', type: 'spki'}).subarray(-32).toString('hex');
}

function ed25519Public(hex) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'),
                             Buffer.from(hex.trim(), 'hex')]);
  const pub = crypto.createPublicKey(crypto.createPrivateKey({key: der, format: 'der',
                                                              type: 'pkcs8'}));
  return pub.export({format: 'der', type: 'spki'}).subarray(-32).toString('hex');
}

/* ---- the checks -------------------------------------------------------- */

function statefulSets(model) {
  return model.docs.filter(d => d.kind === 'StatefulSet');
}

function isRegional(sts) {
  return ((sts.spec.template.metadata || {}).labels || {})['app.kubernetes.io/component'] === 'regional';
}

function portOf(container, p) {
  const ports = container.ports || [];
  const hit = typeof p === 'number' ? ports.find(x => x.containerPort === p)
                                    : ports.find(x => x.name === p);
  return hit ? hit.containerPort : undefined;
}

function checkNamespace(model) {
  const out = [];
  const nss = model.docs.filter(d => d.kind === 'Namespace');
  if (nss.length !== 1) return [`expected one Namespace, found ${nss.length}`];
  const ns = nss[0].metadata.name;
  const labels = nss[0].metadata.labels || {};
  if (labels['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    out.push(`Namespace ${ns} does not enforce the restricted Pod Security Standard`);
  }
  for (const d of [...model.docs, ...model.secrets]) {
    if (NAMESPACED.has(d.kind) && d.metadata.namespace !== ns) {
      out.push(`${d.kind} ${d.metadata.name} is in namespace ${d.metadata.namespace}, not ${ns}`);
    }
  }
  return out;
}

function checkNoSecrets(model) {
  const out = [];
  for (const d of model.docs.filter(x => x.kind === 'Secret')) {
    out.push(`Secret ${d.metadata.name} is in the kustomization: keys do not belong in the repository`);
  }
  const secretHex = [];
  for (const s of model.secrets) {
    for (const [k, v] of secretData(s)) if (k.endsWith('.key')) secretHex.push(v.toString().trim());
  }
  for (const cm of model.docs.filter(x => x.kind === 'ConfigMap')) {
    for (const [k, v] of Object.entries(cm.data || {})) {
      if (secretHex.some(h => h && v.includes(h))) {
        out.push(`ConfigMap ${cm.metadata.name} key ${k} holds a secret key`);
      }
    }
  }
  return out;
}

function checkRefs(model, sts) {
  const out = [];
  const pod = sts.spec.template.spec;
  const labels = (sts.spec.template.metadata || {}).labels;
  if (!selects(sts.spec.selector.matchLabels, labels)) {
    out.push('the selector does not match the pod template labels');
  }
  const svc = named(model.docs, 'Service', sts.spec.serviceName);
  if (!svc) out.push(`serviceName ${sts.spec.serviceName}: no such Service`);
  else if (!selects(svc.spec.selector, labels)) out.push(`Service ${svc.metadata.name} does not select this pod`);
  const names = new Set([...(pod.volumes || []).map(v => v.name),
                         ...(sts.spec.volumeClaimTemplates || []).map(t => t.metadata.name)]);
  const used = new Set();
  for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
    for (const m of c.volumeMounts || []) {
      used.add(m.name);
      if (!names.has(m.name)) out.push(`container ${c.name} mounts ${m.name}, which is no volume`);
    }
  }
  for (const n of names) if (!used.has(n)) out.push(`volume ${n} is mounted by no container`);
  volumeContents(model, sts, out); // ConfigMaps and Secrets exist
  return out;
}

function podTemplates(model) {
  return statefulSets(model).map(s => ({sts: s, labels: s.spec.template.metadata.labels,
                                        container: aggregatorContainer(s)}));
}

function checkServices(model) {
  const out = [];
  const pods = podTemplates(model);
  for (const svc of model.docs.filter(d => d.kind === 'Service')) {
    const n = svc.metadata.name;
    const hit = pods.filter(p => selects(svc.spec.selector, p.labels));
    if (hit.length !== 1) {
      out.push(`Service ${n} selects ${hit.length} aggregators, not one`);
      continue;
    }
    for (const p of svc.spec.ports || []) {
      const target = p.targetPort === undefined ? p.port : p.targetPort;
      const cport = portOf(hit[0].container, target);
      if (cport === undefined) {
        out.push(`Service ${n} port ${p.name}: target ${target} is no port of ${hit[0].sts.metadata.name}`);
        continue;
      }
      const http = portOf(hit[0].container, 'http');
      const type = svc.spec.type || 'ClusterIP';
      if (cport === http && type !== 'ClusterIP') {
        out.push(`Service ${n} exposes the unauthenticated HTTP endpoint as ${type}`);
      }
    }
  }
  return out;
}

function checkNetworkPolicies(model) {
  const out = [];
  const pods = podTemplates(model);
  for (const np of model.docs.filter(d => d.kind === 'NetworkPolicy')) {
    const n = np.metadata.name;
    const hit = pods.filter(p => selects(np.spec.podSelector.matchLabels, p.labels));
    if (!hit.length) out.push(`NetworkPolicy ${n} selects no aggregator`);
    for (const rule of np.spec.ingress || []) {
      for (const p of rule.ports || []) {
        for (const h of hit) {
          const cport = portOf(h.container, p.port);
          if (cport === undefined) out.push(`NetworkPolicy ${n}: port ${p.port} is no port of ${h.sts.metadata.name}`);
          if (cport === portOf(h.container, 'http') && !(rule.from || []).length) {
            out.push(`NetworkPolicy ${n} opens the HTTP endpoint of ${h.sts.metadata.name} to everyone`);
          }
        }
      }
    }
  }
  return out;
}

function checkSecurity(model, sts) {
  const out = [];
  const pod = sts.spec.template.spec;
  const sc = pod.securityContext || {};
  if (sc.runAsNonRoot !== true) out.push('runAsNonRoot is not true');
  const {uid, gid} = model.image;
  if (sc.runAsUser !== uid) out.push(`runAsUser ${sc.runAsUser} is not the image's fedrec user ${uid}`);
  if (sc.runAsGroup !== gid) out.push(`runAsGroup ${sc.runAsGroup} is not the image's fedrec group ${gid}`);
  if (sc.fsGroup !== gid) out.push(`fsGroup ${sc.fsGroup} is not the image's fedrec group ${gid}`);
  if (!sc.seccompProfile || sc.seccompProfile.type !== 'RuntimeDefault') {
    out.push('the pod has no RuntimeDefault seccomp profile');
  }
  if (pod.automountServiceAccountToken !== false) out.push('the service account token is mounted');
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('the pod shares a host namespace');
  for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
    const s = c.securityContext || {};
    if (s.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation is not false`);
    if (s.readOnlyRootFilesystem !== true) out.push(`${c.name}: the root filesystem is writable`);
    if (s.privileged) out.push(`${c.name}: privileged`);
    const caps = s.capabilities || {};
    if (!(caps.drop || []).includes('ALL')) out.push(`${c.name}: capabilities are not all dropped`);
    if ((caps.add || []).length) out.push(`${c.name}: adds capabilities ${caps.add.join(',')}`);
    if (s.runAsUser !== undefined && s.runAsUser !== sc.runAsUser) out.push(`${c.name}: runs as another user`);
    if (c.image !== model.image.ref) out.push(`${c.name}: image ${c.image}, not ${model.image.ref}`);
    for (const p of c.ports || []) if (p.hostPort) out.push(`${c.name}: hostPort ${p.hostPort}`);
  }
  for (const v of pod.volumes || []) {
    if (v.hostPath) out.push(`volume ${v.name} is a hostPath`);
    if (v.secret) {
      const mode = v.secret.defaultMode === undefined ? 0o644 : v.secret.defaultMode;
      if (mode & 0o227) out.push(`Secret volume ${v.name}: defaultMode ${mode.toString(8)} is writable or readable by others`);
    }
  }
  return out;
}

function checkResources(model, sts) {
  const out = [];
  const pod = sts.spec.template.spec;
  for (const c of [...(pod.initContainers || []), ...(pod.containers || [])]) {
    const r = c.resources || {};
    for (const k of ['cpu', 'memory']) {
      const req = (r.requests || {})[k], lim = (r.limits || {})[k];
      if (req === undefined || lim === undefined) {
        out.push(`${c.name}: no ${k} request and limit`);
        continue;
      }
      const f = k === 'cpu' ? cpu : bytes;
      if (!(f(req) <= f(lim))) out.push(`${c.name}: ${k} request ${req} above limit ${lim}`);
    }
  }
  const lim = bytes(((aggregatorContainer(sts).resources || {}).limits || {}).memory);
  if (isRegional(sts) && !(lim <= REGIONAL_MEMORY_LIMIT)) {
    out.push(`a regional aggregator's memory limit must be at most 512Mi, not ${lim} bytes`);
  }
  return out;
}

const LOOPBACK = /^127\.|^localhost$|^\[::1\]$/;

/* The configuration against the pod: paths, ports, probes, annotations. */
function checkConfig(model, sts) {
  const out = [];
  const cfg = configOf(model, sts, out);
  if (!cfg) return out;
  const regional = cfg.conf.get('mode') === 'regional';
  if (regional !== isRegional(sts)) {
    out.push(`mode ${cfg.conf.get('mode') || 'central'} in a pod labelled ` +
             `${isRegional(sts) ? 'regional' : 'central'}`);
  }
  if (sts.spec.replicas !== 1) out.push(`replicas ${sts.spec.replicas}: one aggregator per role`);
  out.push(...checkConfigFiles(cfg, regional));
  out.push(...checkConfigPorts(model, sts, cfg.conf));
  if (regional) out.push(...checkUpstream(model, cfg.conf));
  return out;
}

/* Every file the configuration names is in the container, secret keys
 * 0600 and in memory; state_dir and the admin socket's directory are
 * writable mounts (the central's state on its persistent volume). */
function checkConfigFiles(cfg, regional) {
  const out = [];
  const {conf, tree} = cfg;
  for (const k of ['key_file', 'allowlist', 'state_dir']) {
    if (!conf.get(k)) out.push(`${k} is not set`);
  }
  const files = FILE_KEYS.filter(k => conf.get(k));
  if (regional) {
    for (const k of ['upstream', 'upstream_server_key', 'upstream_key_file']) {
      if (!conf.get(k)) out.push(`mode regional without ${k}`);
    }
    if (!files.includes('upstream_sign_key_file')) files.push('upstream_sign_key_file');
  }
  for (const k of files) {
    const p = k === 'upstream_sign_key_file' ? signPath(conf) : conf.get(k);
    const f = tree.files.get(p);
    if (!f) {
      const where = mountOf(tree.mounts, p) ? 'not in its volume' : 'under no volume mount';
      out.push(`${k} ${p}: no such file in the container (${where})`);
      continue;
    }
    if (!SECRET_FILE_KEYS.includes(k)) continue;
    if (f.mode & 0o077) {
      out.push(`${k} ${p} has mode ${f.mode.toString(8)}: the daemon refuses a secret ` +
               'key that group or others can read');
    }
    if (mountOf(tree.mounts, p).medium !== 'Memory') out.push(`${k} ${p} is not on a memory-backed volume`);
  }
  const writable = p => {
    const m = tree.mounts.find(x => x.mountPath.replace(/\/$/, '') === p);
    return m && !m.readOnly && (m.kind === 'emptyDir' || m.kind === 'pvc') ? m : null;
  };
  const sd = writable(conf.get('state_dir'));
  if (!sd) {
    out.push(`state_dir ${conf.get('state_dir')} is not a writable volume mount`);
  } else if (!regional && sd.kind !== 'pvc') {
    out.push(`the central's state_dir ${sd.mountPath} is not on its persistent volume`);
  }
  const sock = conf.get('admin_socket') || `${conf.get('state_dir')}/admin.sock`;
  if (!writable(path.posix.dirname(sock))) {
    out.push(`admin_socket ${sock}: its directory is not a writable volume mount`);
  }
  return out;
}

/* listen and http_listen are the container's ports, reachable from
 * outside the pod; the probes and scrape annotations use http_listen's
 * port and paths the daemon serves; the grace period covers
 * stop_grace_ms. */
function checkConfigPorts(model, sts, conf) {
  const out = [];
  const c = aggregatorContainer(sts);
  const listen = hostPort(conf.get('listen') || 'tcp://127.0.0.1:7600', 'listen');
  if (LOOPBACK.test(listen.host)) out.push(`listen ${conf.get('listen')} is loopback: nothing outside the pod reaches it`);
  if (portOf(c, 'zmq') !== listen.port) {
    out.push(`listen port ${listen.port} is not the container port zmq (${portOf(c, 'zmq')})`);
  }
  const http = hostPort(conf.has('http_listen') ? conf.get('http_listen') : '127.0.0.1:7601', 'http_listen');
  if (LOOPBACK.test(http.host)) {
    out.push(`http_listen ${conf.get('http_listen') || '(default)'} is loopback: the kubelet's ` +
             'probes and Prometheus cannot reach it');
  }
  if (portOf(c, 'http') !== http.port) {
    out.push(`http_listen port ${http.port} is not the container port http (${portOf(c, 'http')})`);
  }
  for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const pr = c[kind];
    if (!pr || !pr.httpGet) {
      out.push(`no HTTP ${kind}`);
      continue;
    }
    const want = kind === 'readinessProbe' && model.served.includes('/readyz') ? '/readyz' : '/healthz';
    if (pr.httpGet.path !== want) out.push(`${kind} asks ${pr.httpGet.path}, not ${want}`);
    if (portOf(c, pr.httpGet.port) !== http.port) {
      out.push(`${kind} port ${pr.httpGet.port} is not http_listen's port ${http.port}`);
    }
  }
  const ann = sts.spec.template.metadata.annotations || {};
  if (ann['prometheus.io/scrape'] !== 'true') out.push('prometheus.io/scrape is not "true"');
  if (ann['prometheus.io/port'] !== String(http.port)) {
    out.push(`prometheus.io/port ${ann['prometheus.io/port']} is not http_listen's port ${http.port}`);
  }
  if (ann['prometheus.io/path'] !== '/metrics' || !model.served.includes('/metrics')) {
    out.push(`prometheus.io/path ${ann['prometheus.io/path']} is not the daemon's /metrics`);
  }
  const grace = Number(conf.get('stop_grace_ms') || 30000);
  const tg = sts.spec.template.spec.terminationGracePeriodSeconds;
  const secs = tg === undefined ? 30 : tg;
  if (secs * 1000 <= grace) {
    out.push(`terminationGracePeriodSeconds ${secs} does not leave stop_grace_ms ${grace} and the checkpoint`);
  }
  return out;
}

/* upstream names a Service that reaches the central's store port. */
function checkUpstream(model, conf) {
  const out = [];
  const up = hostPort(conf.get('upstream'), 'upstream');
  const ns = model.docs.find(d => d.kind === 'Namespace').metadata.name;
  const parts = up.host.split('.');
  if (parts.length > 1 && parts[1] !== ns) return [`upstream ${up.host} is not in namespace ${ns}`];
  const svc = named(model.docs, 'Service', parts[0]);
  if (!svc) return [`upstream ${up.host}: no such Service`];
  const p = (svc.spec.ports || []).find(x => x.port === up.port);
  const central = podTemplates(model).find(x => selects(svc.spec.selector, x.labels));
  if (!central || isRegional(central.sts)) return [`upstream Service ${parts[0]} does not select the central aggregator`];
  if (!p || portOf(central.container, p.targetPort === undefined ? p.port : p.targetPort) !== portOf(central.container, 'zmq')) {
    out.push(`upstream port ${up.port} of Service ${parts[0]} is not the central's store port`);
  }
  return out;
}

/* A region's Secret holds the central's public key and the keys whose
 * public halves `secrets.sh keys` printed for the central's allow-list. */
function checkRegionKeys(model, region) {
  const out = [];
  const cs = named(model.secrets, 'Secret', 'fedrec-central-keys');
  const rs = named(model.secrets, 'Secret', `fedrec-${region}-keys`);
  if (!cs || !rs) return [`Secret fedrec-central-keys or fedrec-${region}-keys missing`];
  const c = secretData(cs), r = secretData(rs);
  if (!c.has('aggregator.key')) out.push('fedrec-central-keys has no aggregator.key');
  for (const k of ['aggregator.key', 'region.key', 'region.sign.key', 'central.pub']) {
    if (!r.has(k)) out.push(`fedrec-${region}-keys has no ${k}`);
  }
  if (out.length) return out;
  if (x25519Public(c.get('aggregator.key').toString()) !== r.get('central.pub').toString().trim()) {
    out.push(`central.pub of fedrec-${region}-keys is not the central's public key`);
  }
  const line = model.centralLines.find(l => l.split(/\s+/)[0] === region);
  if (!line) return out.concat([`secrets.sh printed no allow-list line for ${region}`]);
  const [, curve, sign] = line.split(/\s+/);
  if (x25519Public(r.get('region.key').toString()) !== curve) {
    out.push(`region.key of ${region} is not the key of its allow-list line`);
  }
  if (ed25519Public(r.get('region.sign.key').toString()) !== sign) {
    out.push(`region.sign.key of ${region} is not the identity key of its allow-list line`);
  }
  return out;
}

function checkRegions(model) {
  const out = [];
  const sts = statefulSets(model);
  const regional = sts.filter(isRegional).map(s => s.spec.template.metadata.labels['app.kubernetes.io/instance']);
  const central = sts.filter(s => !isRegional(s));
  if (central.length !== 1) out.push(`expected one central aggregator, found ${central.length}`);
  for (const r of model.regions) {
    if (!regional.includes(r)) out.push(`region ${r} (config/${r}.conf) has no regional StatefulSet`);
    if (!named(model.docs, 'StatefulSet', `fedrec-${r}`)) out.push(`no StatefulSet fedrec-${r}`);
  }
  for (const r of regional) if (!model.regions.includes(r)) out.push(`regional aggregator ${r} has no config/${r}.conf`);
  return out;
}

/* ---- the daemon's own check -------------------------------------------- */

/* Writes the aggregator's view of its files under dir and the
 * configuration with its paths moved there; returns the file's path. */
function writeTree(dir, cfg) {
  fs.rmSync(dir, {recursive: true, force: true});
  for (const m of cfg.tree.mounts) fs.mkdirSync(path.join(dir, m.mountPath), {recursive: true, mode: 0o700});
  for (const [p, f] of cfg.tree.files) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), {recursive: true});
    fs.writeFileSync(path.join(dir, p), f.data, {mode: f.mode});
    fs.chmodSync(path.join(dir, p), f.mode);
  }
  const moved = ['key_file', 'allowlist', 'state_dir', 'admin_socket', ...FILE_KEYS];
  const lines = [];
  for (const raw of cfg.text.split('\n')) {
    const m = /^\s*(\S+)\s+(.*\S)\s*$/.exec(raw);
    if (m && !m[1].startsWith('#') && moved.includes(m[1]) && m[2].startsWith('/')) {
      lines.push(`${m[1]} ${path.join(dir, m[2])}`);
    } else {
      lines.push(raw);
    }
  }
  const conf = path.join(dir, 'aggregator.conf');
  fs.writeFileSync(conf, lines.join('\n'));
  return conf;
}

function checkConfigByDaemon(model, sts) {
  const out = [];
  const cfg = configOf(model, sts, out);
  if (!cfg) return out;
  const dir = path.join(model.work, sts.metadata.name);
  const conf = writeTree(dir, cfg);
  const r = cp.spawnSync(model.aggregator, ['--config', conf, '--check-config'],
                         {encoding: 'utf8', timeout: 20000});
  if (r.status !== 0 || !/configuration ok/.test(r.stdout)) {
    out.push(`fedrec-aggregator --check-config (exit ${r.status}): ${(r.stderr || '').trim().split('\n')[0]}`);
  }
  return out;
}

/* ---- running them ------------------------------------------------------ */

function allChecks(model, daemon) {
  const list = [];
  const add = (name, fn) => list.push({name, fn});
  for (const d of [...model.docs, ...model.secrets]) {
    add(`schema:${d.kind}/${d.metadata && d.metadata.name}`, () => schemaProblems(d));
  }
  add('namespace', () => checkNamespace(model));
  add('no-secrets-in-repo', () => checkNoSecrets(model));
  add('regions', () => checkRegions(model));
  add('services', () => checkServices(model));
  add('networkpolicies', () => checkNetworkPolicies(model));
  for (const s of statefulSets(model)) {
    const n = s.metadata.name;
    add(`refs:${n}`, () => checkRefs(model, s));
    add(`security:${n}`, () => checkSecurity(model, s));
    add(`resources:${n}`, () => checkResources(model, s));
    add(`config:${n}`, () => checkConfig(model, s));
  }
  for (const r of model.regions) add(`keys:${r}`, () => checkRegionKeys(model, r));
  if (daemon) {
    for (const s of statefulSets(model)) {
      const role = isRegional(s) ? `regional:${s.spec.template.metadata.labels['app.kubernetes.io/instance']}` : 'central';
      add(`check-config:${role}`, () => checkConfigByDaemon(model, s));
    }
  }
  return list;
}

function runOne(c) {
  try {
    return c.fn();
  } catch (e) {
    return [`check failed to run: ${e.stack || e}`];
  }
}

/* ---- self-test: broken variants that must be caught --------------------- */

function selfTest(model) {
  const results = [];
  for (const [what, target, mutate] of MUTATIONS) {
    const m = {...model, docs: structuredClone(model.docs), secrets: structuredClone(model.secrets)};
    let problems;
    try {
      mutate(m);
      const c = allChecks(m, false).find(x => x.name === target);
      problems = c ? runOne(c) : [`no check ${target}`];
    } catch (e) {
      problems = [`self-test failed to run: ${e.stack || e}`];
    }
    const caught = problems.length > 0 && !problems.some(p => /failed to run|no check/.test(p));
    const missed = problems.length ? problems : [`${target} did not notice`];
    results.push({name: `self-test:${what}`, problems: caught ? [] : missed,
                  note: caught ? `${target}: ${problems[0]}` : ''});
  }
  return results;
}

/* ---- main -------------------------------------------------------------- */

function loadDocs(file) {
  const out = [];
  for (const d of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const js = d.toJS();
    if (js) out.push(js);
  }
  return out;
}

function imageFacts(src, docs) {
  const text = fs.readFileSync(path.join(src, 'deploy/k8s/Containerfile'), 'utf8');
  const uid = /useradd[^\n]*(?:\\\n[^\n]*)*--uid (\d+)/.exec(text);
  const gid = /groupadd[^\n]*--gid (\d+)/.exec(text);
  const user = /^USER (\d+):(\d+)$/m.exec(text);
  const ref = statefulSets({docs}).map(s => aggregatorContainer(s).image)[0];
  if (!uid || !gid || !user || user[1] !== uid[1] || user[2] !== gid[1]) {
    throw new Error('deploy/k8s/Containerfile: expected groupadd --gid N, useradd --uid N and USER UID:GID that agree');
  }
  return {uid: Number(uid[1]), gid: Number(gid[1]), ref};
}

function main() {
  const args = parseArgs(process.argv);
  const docs = loadDocs(args.rendered);
  const secrets = loadDocs(args.secrets);
  for (const s of secrets) if (s.metadata) delete s.metadata.creationTimestamp; // kubectl's dry run writes null
  const httpC = fs.readFileSync(path.join(args.src, 'server/http.c'), 'utf8');
  const model = {
    docs, secrets,
    regions: args.regions.split(/\s+/).filter(Boolean),
    centralLines: fs.readFileSync(args['central-lines'], 'utf8').split('\n').filter(Boolean),
    served: [...httpC.matchAll(/strcmp\(url, "(\/[^"]*)"\)/g)].map(m => m[1]),
    image: imageFacts(args.src, docs),
    aggregator: args.aggregator,
    work: args.work,
  };
  if (!model.served.includes('/healthz')) throw new Error('server/http.c: no /healthz found');
  let passed = 0, failed = 0, xfailed = 0;
  const results = allChecks(model, true).map(c => ({name: c.name, problems: runOne(c)}));
  for (const r of [...results, ...selfTest(model)]) {
    const xf = args.xfail.find(x => r.name.startsWith(x.prefix));
    if (xf) {
      if (r.problems.length && r.problems.every(p => xf.re.test(p))) {
        xfailed++;
        passed++;
        console.log(`XFAIL ${r.name}: ${r.problems[0]}`);
      } else if (!r.problems.length) {
        failed++;
        console.log(`FAIL  ${r.name}: passed, but it is on the expected-failure list: take it off`);
      } else {
        failed++;
        for (const p of r.problems) console.log(`FAIL  ${r.name}: ${p}`);
      }
    } else if (r.problems.length) {
      failed++;
      for (const p of r.problems) console.log(`FAIL  ${r.name}: ${p}`);
    } else {
      passed++;
      console.log(`ok    ${r.name}${r.note ? ` (${r.note})` : ''}`);
    }
  }
  if (xfailed) console.log(`expected failures: ${xfailed}`);
  console.log(`k8s: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main();
