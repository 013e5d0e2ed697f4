'use strict';
// What acme-client 5.4 touches of axios while it loads (src/axios.js: create(), defaults,
// interceptors, AxiosError), and nothing that could send a request: certkeeper installs its own
// transport on every acme-client Client (src/acme/transport.ts installTransport). A call that
// would send anything throws, so a future acme-client that bypasses the transport fails loudly.

class AxiosError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'AxiosError';
    this.code = code;
  }
}
AxiosError.ERR_BAD_REQUEST = 'ERR_BAD_REQUEST';
AxiosError.ERR_BAD_RESPONSE = 'ERR_BAD_RESPONSE';

function unused(method) {
  return () => {
    throw new Error(`axios.${method}() called: certkeeper ships no axios; every acme-client request must go through certkeeper's ACME transport (src/acme/transport.ts)`);
  };
}

function create() {
  const instance = unused('request');
  instance.defaults = { headers: { common: {} } };
  instance.interceptors = { request: { use() {} }, response: { use() {} } };
  for (const method of ['request', 'get', 'head', 'post', 'put', 'delete', 'options', 'patch']) instance[method] = unused(method);
  return instance;
}

const axios = create();
axios.create = create;
axios.AxiosError = AxiosError;
axios.isAxiosError = (value) => value instanceof AxiosError;
axios.certkeeperUnused = true;
module.exports = axios;
module.exports.default = axios;
