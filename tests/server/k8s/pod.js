'use strict';
/*
 * pod.js - an aggregator's pod "materialised": the files its container
 * sees, from ConfigMaps and Secrets with the modes the kubelet gives them
 * (fsGroup adds group read), after its init containers' copies; and the
 * configuration it is given, read as fr_config_load_file reads it.
 */
const path = require('path');

function named(docs, kind, name) {
  return docs.find(d => d.kind === kind && d.metadata && d.metadata.name === name);
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

module.exports = {named, parseConf, signPath, secretData, volumeContents, mountOf,
                  materialise, aggregatorContainer, configOf};
