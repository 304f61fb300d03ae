'use strict';
/*
 * selftest.js - broken variants of the manifests, each of which the check
 * it names must catch: [what, check name, mutate(model)]. They name the
 * example's aggregators (central, north, south, west).
 */
const {named, aggregatorContainer} = require('./pod.js');

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

module.exports = {MUTATIONS};
