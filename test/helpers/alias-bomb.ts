// A "billion laughs" YAML config: nine levels of nine aliases each, 9^9 (387 million) strings once
// expanded, from under 1 KB of text. Valid everywhere else, so only the alias bound refuses it.

export const BOMB_BASE = `stateDir: ./state
acme: { directory: "https://127.0.0.1:9/dir" }
dns:
  d: { type: rfc2136, server: "127.0.0.1:9", tsigKeyName: k, tsigSecret: "c2VjcmV0" }
sinks:
  f: { type: files, dir: "./out/{cert}" }
certificates:
  - { name: a, domains: [a.example.test], dns: d, sinks: [f] }
`;

/** The aliases alone, under an unknown top-level key `x:` (append to any config). */
export const BOMB_ALIASES = `x:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

export const BILLION_LAUGHS = `${BOMB_BASE}${BOMB_ALIASES}`;
