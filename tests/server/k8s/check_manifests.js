'use strict';
/*
 * check_manifests.js - checks deploy/k8s as `kubectl apply -k` sends it:
 * the rendered manifests (kubectl kustomize) and the Secrets that
 * deploy/k8s/secrets.sh makes, against the Kubernetes API schemas and
 * against what fedrec-aggregator will do with them.
 *
 * DESIGN
 * - Schemas: kubernetes-models (npm, pinned in package-lock.json) ships
 *   the Kubernetes OpenAPI schemas compiled to validators: types, required
 *   fields, enums, quantity and int-or-string formats. They accept unknown
 *   fields, so every object is handed to the validator behind a Proxy that
 *   records which properties it read: a property it never read is not in
 *   the schema (a typo such as readOnlyRootFileSystem) and is reported.
 * - Pods: each StatefulSet's pod is "materialised" into a virtual file
 *   tree: ConfigMap and Secret files at their mounts with the modes the
 *   kubelet gives them (fsGroup adds group read to a Secret's files), the
 *   init containers' `install -m MODE SRC... DIR/` copies replayed. The
 *   aggregator's configuration (from its ConfigMap) is then read as the
 *   daemon reads it, and every path, port and limit it names is checked
 *   against that tree, the container's ports, probes, annotations and the
 *   Services.
 * - The daemon's own parser: each configuration runs through
 *   `fedrec-aggregator --check-config` with its paths moved under a
 *   directory that holds the materialised files (real keys from
 *   secrets.sh, modes as in the pod).
 * - Sub-checks are named; --xfail NAME_PREFIX=REGEX marks the ones
 *   expected to fail, and they pass only if every problem matches REGEX.
 *   One that passes is a failure, so the list cannot go stale.
 * - Self-test: a set of broken variants of the manifests (a probe on the
 *   wrong port, a typo in a field, a key file readable by the group, ...)
 *   each of which must be caught by the check it names.
 */
const fs = require('fs');
const path = require('path');
const cp = require('child_process');
const crypto = require('crypto');
const YAML = require('yaml');

const REGIONAL_MEMORY_LIMIT = 512 * 1024 * 1024;
// Keys of mode regional that name files, and their defaults.
const SECRET_FILE_KEYS = ['key_file', 'upstream_key_file', 'upstream_sign_key_file'];
const FILE_KEYS = ['allowlist', 'upstream_server_key', 'catalogue', ...SECRET_FILE_KEYS];
const RELAY_KEYS = ['mode', 'upstream', 'upstream_server_key', 'upstream_key_file',
                    'upstream_sign_key_file'];

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

/* ---- schema validation ------------------------------------------------- */

const modelsDir = path.dirname(require.resolve('kubernetes-models'));
const validators = new Map();

function validatorFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (validators.has(key)) return validators.get(key);
  const model = path.join(modelsDir, apiVersion, `${kind}.js`);
  let v = null;
  if (/^[A-Za-z0-9.\/]+$/.test(key) && fs.existsSync(model)) {
    const m = /_schemas\/(IoK8s\w+)\.js/.exec(fs.readFileSync(model, 'utf8'));
    if (m) v = require(path.join(modelsDir, '_schemas', `${m[1]}.js`)).validate;
  }
  validators.set(key, v);
  return v;
}

/* obj behind Proxies that note every property read; unread() lists the
 * properties present but never read, as JSON pointers. */
function watched(obj, at, unread) {
  if (obj === null || typeof obj !== 'object') return obj;
  const read = new Set(), kids = new Map();
  const keys = Array.isArray(obj) ? [] : Object.keys(obj);
  unread.push(() => keys.filter(k => !read.has(k)).map(k => `${at}/${k}`));
  return new Proxy(obj, {
    get(t, k) {
      if (typeof k !== 'string') return t[k];
      read.add(k);
      if (!kids.has(k)) kids.set(k, watched(t[k], `${at}/${k}`, unread));
      return kids.get(k);
    },
    has(t, k) { read.add(k); return k in t; },
    getOwnPropertyDescriptor(t, k) { read.add(k); return Object.getOwnPropertyDescriptor(t, k); },
  });
}

function schemaProblems(doc) {
  const v = validatorFor(doc.apiVersion, doc.kind);
  if (!v) return [`no Kubernetes schema for ${doc.apiVersion} ${doc.kind}`];
  const unread = [];
  const out = [];
  if (!v(watched(doc, '', unread))) {
    for (const e of v.errors || []) {
      out.push(`${e.instancePath || '/'}: ${e.keyword} ${JSON.stringify(e.params)}`);
    }
  }
  for (const f of unread) for (const p of f()) out.push(`${p}: unknown field`);
  return out;
}

/* ---- small helpers ----------------------------------------------------- */

const NAMESPACED = new Set(['ConfigMap', 'Secret', 'Service', 'StatefulSet', 'Deployment',
                            'NetworkPolicy', 'PersistentVolumeClaim', 'ServiceAccount']);

function named(docs, kind, name) {
  return docs.find(d => d.kind === kind && d.metadata && d.metadata.name === name);
}

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

/* The aggregator's configuration as fr_config_load_file reads it: "KEY
 * VALUE" lines, '#' comments, the last line of a key wins. */
function parseConf(text) {
  const conf = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`configuration line '${line}' has no value`);
    conf.set(m[1], m[2].trim() === '""' ? '' : m[2].trim());
  }
  return conf;
}

function signPath(conf) {
  if (conf.get('upstream_sign_key_file')) return conf.get('upstream_sign_key_file');
  const k = conf.get('upstream_key_file') || '';
  return k.endsWith('.key') ? `${k.slice(0, -4)}.sign.key` : `${k}.sign.key`;
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

/* ---- the pod, materialised --------------------------------------------- */

function secretData(secret) {
  const out = new Map();
  for (const [k, v] of Object.entries(secret.data || {})) out.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(secret.stringData || {})) out.set(k, Buffer.from(v));
  return out;
}

/* The files of each volume before the containers start:
 * name -> {kind, medium, files: Map(rel -> {data, mode, from})}. */
function volumeContents(model, sts, problems) {
  const pod = sts.spec.template.spec;
  const fsGroup = (pod.securityContext || {}).fsGroup;
  const vols = new Map();
  for (const v of pod.volumes || []) {
    const files = new Map();
    let kind = 'other';
    if (v.configMap) {
      kind = 'configMap';
      const cm = named(model.docs, 'ConfigMap', v.configMap.name);
      const mode = v.configMap.defaultMode === undefined ? 0o644 : v.configMap.defaultMode;
      if (!cm) problems.push(`volume ${v.name}: ConfigMap ${v.configMap.name} is not in the kustomization`);
      for (const [k, d] of Object.entries((cm && cm.data) || {})) {
        files.set(k, {data: Buffer.from(d), mode: fsGroup !== undefined ? mode | 0o440 : mode,
                      from: `ConfigMap ${v.configMap.name}`});
      }
    } else if (v.secret) {
      kind = 'secret';
      const s = named(model.secrets, 'Secret', v.secret.secretName);
      const mode = v.secret.defaultMode === undefined ? 0o644 : v.secret.defaultMode;
      if (!s) problems.push(`volume ${v.name}: Secret ${v.secret.secretName} is not made by secrets.sh`);
      // The kubelet gives the files to fsGroup and adds group read.
      for (const [k, d] of s ? secretData(s) : []) {
        files.set(k, {data: d, mode: fsGroup !== undefined ? mode | 0o440 : mode,
                      from: `Secret ${v.secret.secretName}`});
      }
    } else if (v.emptyDir) {
      kind = 'emptyDir';
    } else if (v.persistentVolumeClaim) {
      kind = 'pvc';
    }
    vols.set(v.name, {kind, medium: v.emptyDir && v.emptyDir.medium, files});
  }
  for (const t of sts.spec.volumeClaimTemplates || []) {
    vols.set(t.metadata.name, {kind: 'pvc', files: new Map()});
  }
  return vols;
}

function mountOf(mounts, p) {
  let best = null;
  for (const m of mounts) {
    const mp = m.mountPath.replace(/\/$/, '');
    if ((p === mp || p.startsWith(`${mp}/`)) && (!best || mp.length > best.mountPath.length)) {
      best = m;
    }
  }
  return best;
}

/* Replays the init containers; only `install -m MODE SRC... DIR/` is
 * understood, as the manifests use it to copy the keys. */
function runInits(pod, vols, problems) {
  for (const c of pod.initContainers || []) {
    const cmd = [...(c.command || []), ...(c.args || [])];
    if (cmd[0] !== 'install' || cmd[1] !== '-m' || cmd.length < 5) {
      problems.push(`init container ${c.name}: command not understood: ${cmd.join(' ')}`);
      continue;
    }
    const mode = parseInt(cmd[2], 8);
    const dest = cmd[cmd.length - 1].replace(/\/$/, '');
    const dm = (c.volumeMounts || []).find(m => m.mountPath.replace(/\/$/, '') === dest);
    if (!dm || dm.readOnly || !['emptyDir', 'pvc'].includes((vols.get(dm.name) || {}).kind)) {
      problems.push(`init container ${c.name}: ${dest} is not a writable volume mount`);
      continue;
    }
    for (const src of cmd.slice(3, -1)) {
      const sm = mountOf(c.volumeMounts || [], src);
      const vol = sm && vols.get(sm.name);
      const rel = sm && path.posix.relative(sm.mountPath, src);
      const f = vol && vol.files.get(rel);
      if (!f) {
        problems.push(`init container ${c.name}: ${src} is in no volume it mounts`);
        continue;
      }
      vols.get(dm.name).files.set(path.posix.basename(src),
                                  {data: f.data, mode, from: `${f.from} via ${c.name}`});
    }
  }
}

/* The aggregator container's view: path -> file, and its mounts. */
function materialise(model, sts, problems) {
  const pod = sts.spec.template.spec;
  const vols = volumeContents(model, sts, problems);
  runInits(pod, vols, problems);
  const c = aggregatorContainer(sts);
  const files = new Map(), mounts = [];
  for (const m of c.volumeMounts || []) {
    const vol = vols.get(m.name);
    if (!vol) {
      problems.push(`mount ${m.mountPath}: no volume ${m.name}`);
      continue;
    }
    mounts.push({...m, kind: vol.kind, medium: vol.medium});
    for (const [rel, f] of vol.files) files.set(path.posix.join(m.mountPath, rel), f);
  }
  return {files, mounts};
}

function aggregatorContainer(sts) {
  const cs = sts.spec.template.spec.containers || [];
  return cs.find(c => c.name === 'aggregator') || cs[0];
}

function configOf(model, sts, problems) {
  const c = aggregatorContainer(sts);
  const args = [...(c.command || []), ...(c.args || [])];
  const i = args.indexOf('--config');
  const p = i >= 0 ? args[i + 1] : (args.find(a => a.startsWith('--config=')) || '').slice(9);
  if (!p) {
    problems.push('the aggregator container is given no --config');
    return null;
  }
  const tree = materialise(model, sts, problems);
  const f = tree.files.get(p);
  if (!f || !/^ConfigMap /.test(f.from)) {
    problems.push(`--config ${p} is not a file of a mounted ConfigMap`);
    return null;
  }
  return {path: p, text: f.data.toString(), conf: parseConf(f.data.toString()), tree};
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
function writeTree(dir, cfg, drop) {
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
    if (m && drop.includes(m[1])) continue;
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

function checkConfigByDaemon(model, sts, drop) {
  const out = [];
  const cfg = configOf(model, sts, out);
  if (!cfg) return out;
  const dir = path.join(model.work, `${sts.metadata.name}${drop.length ? '-base' : ''}`);
  const conf = writeTree(dir, cfg, drop);
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
      add(`check-config:${role}`, () => checkConfigByDaemon(model, s, []));
      // Until the parser knows mode regional: the rest of the file.
      if (isRegional(s)) add(`check-config-base:${role}`, () => checkConfigByDaemon(model, s, RELAY_KEYS));
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

function sts(model, n) { return named(model.docs, 'StatefulSet', n); }
function agg(model, n) { return aggregatorContainer(sts(model, n)); }
function editConf(model, n, from, to) {
  const cmName = sts(model, n).spec.template.spec.volumes.find(v => v.name === 'config').configMap.name;
  const cm = named(model.docs, 'ConfigMap', cmName);
  const k = Object.keys(cm.data)[0];
  if (!from.test(cm.data[k])) throw new Error(`self-test: ${from} not in ${cmName}`);
  cm.data[k] = cm.data[k].replace(from, to);
}

const MUTATIONS = [
  ['a regional memory limit of 1Gi', 'resources:fedrec-north',
   m => { agg(m, 'fedrec-north').resources.limits.memory = '1Gi'; }],
  ['a liveness probe on another port', 'config:fedrec-central',
   m => { agg(m, 'fedrec-central').livenessProbe.httpGet.port = 7602; }],
  ['a readiness probe on a path the daemon does not serve', 'config:fedrec-south',
   m => { agg(m, 'fedrec-south').readinessProbe.httpGet.path = '/ready'; }],
  ['a scrape annotation on another port', 'config:fedrec-north',
   m => { sts(m, 'fedrec-north').spec.template.metadata.annotations['prometheus.io/port'] = '9090'; }],
  ['a misspelt securityContext field', 'schema:StatefulSet/fedrec-north',
   m => { const s = agg(m, 'fedrec-north').securityContext; s.readOnlyRootFileSystem = s.readOnlyRootFilesystem; delete s.readOnlyRootFilesystem; }],
  ['a memory quantity that is no quantity', 'schema:StatefulSet/fedrec-central',
   m => { agg(m, 'fedrec-central').resources.requests.memory = 'lots'; }],
  ['key_file naming a file no volume holds', 'config:fedrec-central',
   m => editConf(m, 'fedrec-central', /^key_file .*$/m, 'key_file /etc/fedrec/keys/central.key')],
  ['the copy step leaving out region.sign.key', 'config:fedrec-west',
   m => { const i = sts(m, 'fedrec-west').spec.template.spec.initContainers[0]; i.command = i.command.filter(a => !a.endsWith('region.sign.key')); }],
  ['the Secret mounted where the daemon reads its keys', 'config:fedrec-north',
   m => { agg(m, 'fedrec-north').volumeMounts.find(x => x.name === 'keys').name = 'secrets'; }],
  ['a ConfigMap that is not in the kustomization', 'refs:fedrec-south',
   m => { sts(m, 'fedrec-south').spec.template.spec.volumes.find(v => v.name === 'allowlist').configMap.name = 'fedrec-south-allowlist'; }],
  ['a Service port aimed at no container port', 'services',
   m => { named(m.docs, 'Service', 'fedrec-central').spec.ports[0].targetPort = 'stores'; }],
  ['the HTTP endpoint behind a LoadBalancer', 'services',
   m => { named(m.docs, 'Service', 'fedrec-north-http').spec.type = 'LoadBalancer'; }],
  ['a pod that may run as root', 'security:fedrec-central',
   m => { sts(m, 'fedrec-central').spec.template.spec.securityContext.runAsNonRoot = false; }],
  ['a container that keeps its capabilities', 'security:fedrec-west',
   m => { delete agg(m, 'fedrec-west').securityContext.capabilities; }],
  ['http_listen on loopback', 'config:fedrec-central',
   m => editConf(m, 'fedrec-central', /^http_listen .*$/m, 'http_listen 127.0.0.1:7601')],
  ['a grace period shorter than stop_grace_ms', 'config:fedrec-north',
   m => { sts(m, 'fedrec-north').spec.template.spec.terminationGracePeriodSeconds = 20; }],
  ['upstream naming no Service', 'config:fedrec-south',
   m => editConf(m, 'fedrec-south', /^upstream .*$/m, 'upstream tcp://fedrec-centre:7600')],
  ['a region holding another region\'s upstream key', 'keys:north',
   m => { named(m.secrets, 'Secret', 'fedrec-north-keys').data['region.key'] = named(m.secrets, 'Secret', 'fedrec-south-keys').data['region.key']; }],
  ['the central\'s state on an emptyDir', 'config:fedrec-central',
   m => { const s = sts(m, 'fedrec-central'); s.spec.template.spec.volumes.push({name: 'state', emptyDir: {}}); delete s.spec.volumeClaimTemplates; }],
];

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
