// A stand-in for the few chrome.* APIs the worker's libraries use (storage.local, alarms), in memory, installed
// as globalThis.chrome. Only the browser boundary is replaced: the code under test is the real module.
export function installChrome() {
  const data = new Map();
  const alarms = new Map();
  const clone = (v) => (v === undefined ? undefined : structuredClone(v));
  globalThis.chrome = {
    storage: {
      local: {
        async get(key) {
          const keys = key === null || key === undefined ? [...data.keys()] : [].concat(key);
          return Object.fromEntries(keys.filter((k) => data.has(k)).map((k) => [k, clone(data.get(k))]));
        },
        async set(values) {
          for (const [k, v] of Object.entries(values)) data.set(k, clone(v));
        },
        async remove(keys) {
          for (const k of [].concat(keys)) data.delete(k);
        },
      },
    },
    alarms: {
      async create(name, info) {
        alarms.set(name, info);
      },
      async clear(name) {
        return alarms.delete(name);
      },
    },
  };
  return { data, alarms };
}
