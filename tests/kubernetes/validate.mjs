// validate.mjs: check Kubernetes objects against the API schemas, offline.
//
//   node validate.mjs OBJECTS.json     (a JSON array of objects)
//
// Each object is validated by its apiVersion and kind with the generated
// models of kubernetes-models (core API) and
// @kubernetes-models/prometheus-operator (monitoring.coreos.com). Those
// schemas, like the API's OpenAPI, accept unknown fields, which the API
// server then drops silently (a typo such as readOnlyRootFilesytem would
// just vanish). So every object is also walked for fields that the schema
// validator never looked at: the data is wrapped in a Proxy that records
// each property the compiled validator reads (known fields) and each
// object whose keys it enumerates (maps such as labels). A field neither
// read nor enumerated is unknown to the schema and fails the object, as
// `kubectl apply --validate=strict` would.
//
// Prints one line per object and ends with "N passed, M failed"; exit 1 on
// any failure.
import { readFileSync } from "node:fs";

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com")
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  if (group === "") return `kubernetes-models/${version}/${kind}`;
  // kubernetes-models names core groups without ".k8s.io" for apps etc.
  return `kubernetes-models/${group}/${version}/${kind}`;
}

// Wrap value so that reads are recorded in seen (paths) and enumerations
// in listed (paths of objects whose every key counts as known).
function track(value, path, seen, listed) {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === "string") seen.add(`${path}/${key}`);
      const v = Reflect.get(target, key, receiver);
      return typeof key === "string" && Object.prototype.hasOwnProperty.call(target, key)
        ? track(v, `${path}/${key}`, seen, listed)
        : v;
    },
    has(target, key) {
      if (typeof key === "string") seen.add(`${path}/${key}`);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      listed.add(path);
      return Reflect.ownKeys(target);
    },
  });
}

// Every field path of value that the validator neither read nor listed.
function unknownFields(value, path, seen, listed, out) {
  if (value === null || typeof value !== "object") return;
  const isArray = Array.isArray(value);
  for (const key of Object.keys(value)) {
    const p = `${path}/${key}`;
    if (!isArray && !seen.has(p) && !listed.has(path)) out.push(p || "/");
    unknownFields(value[key], p, seen, listed, out);
  }
}

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
let passed = 0, failed = 0;
for (const obj of objects) {
  const name = `${obj.kind}/${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`;
  let mod;
  try {
    mod = await import(modulePath(obj.apiVersion, obj.kind));
  } catch (e) {
    console.log(`FAIL ${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed++;
    continue;
  }
  const Model = mod[obj.kind];
  const seen = new Set(), listed = new Set();
  const problems = [];
  try {
    // The model's constructor deep-copies its input (losing the proxies),
    // so the instance is made without it: the validator then reads the
    // tracked data itself.
    const inst = Object.assign(Object.create(Model.prototype), obj);
    track(inst, "", seen, listed).validate();
  } catch (e) {
    problems.push(e.message);
  }
  const unknown = [];
  unknownFields(obj, "", seen, listed, unknown);
  if (unknown.length) problems.push(`unknown fields: ${unknown.join(", ")}`);
  if (problems.length) {
    console.log(`FAIL ${name}: ${problems.join("; ")}`);
    failed++;
  } else {
    console.log(`ok   ${name}`);
    passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
