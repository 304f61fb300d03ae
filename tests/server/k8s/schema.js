'use strict';
/*
 * schema.js - the Kubernetes API schemas of kubernetes-models (npm), made
 * strict: the package's validators check types, required fields, enums
 * and formats but accept unknown fields, so the object is handed to them
 * behind Proxies that record every property read; a property present but
 * never read is not in the schema (a typo) and is reported.
 */
const fs = require('fs');
const path = require('path');

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

module.exports = {schemaProblems};
