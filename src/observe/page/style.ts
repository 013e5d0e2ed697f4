// The page's stylesheet, inline (no external font or file). System fonts; readable at 375 px.

export const STYLE = `
:root{--ok:#1a7f37;--due:#9a6700;--fail:#cf222e;--exp:#6e1a1a;--miss:#6e7781;--ink:#1f2328;--mute:#59636e;--line:#d1d9e0;--bg:#fff;--panel:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{padding:.6rem 1rem;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:.2rem 1rem;align-items:baseline}
header h1{font-size:1.2rem;margin:0}header p{margin:0;color:var(--mute);font-size:.9rem}
main{padding:0 1rem 2rem;max-width:1100px}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}h2 small,h3 small{font-weight:normal;color:var(--mute)}h3{font-size:.95rem;margin:1rem 0 .3rem}
a{color:#0550ae}code{font-size:.85em;word-break:break-all}
.counts{list-style:none;display:flex;flex-wrap:wrap;gap:.4rem;padding:0;margin:.8rem 0 .2rem}
.badge{display:inline-block;border:1px solid currentColor;border-radius:1rem;padding:0 .5rem;font-size:.8rem;white-space:nowrap}
.s-valid,.e-ok{color:var(--ok)}.s-due,.e-alert{color:var(--due)}.s-failing,.e-unreachable{color:var(--fail)}.s-expired,.e-expired{color:var(--exp)}.s-missing{color:var(--miss)}
.attention{border:2px solid var(--fail);border-radius:6px;padding:.2rem .9rem .5rem;background:#fff8f8}
.attention.calm{border-color:var(--ok);background:#f4fbf6}
.attention ul{margin:.3rem 0;padding-left:1.1rem}.attention li{margin:.35rem 0}
.error{color:var(--fail);font-family:ui-monospace,monospace;font-size:.82rem;word-break:break-word}
.rows{list-style:none;padding:0;margin:0}
.row{border-bottom:1px solid var(--line);padding:.45rem 0}
.label{display:flex;flex-wrap:wrap;gap:.2rem .5rem;align-items:baseline}.left{color:var(--mute);font-size:.85rem;margin-left:auto}
.sub{color:var(--mute);font-size:.82rem;word-break:break-word}
svg.timeline{display:block;width:100%;height:24px;margin:.2rem 0}
.track{fill:var(--panel)}
rect.bar{fill:currentColor;opacity:.8}rect.bar.s-due{opacity:.9}
.ari{fill:#0969da;opacity:.25}
.threshold{stroke:var(--ink);stroke-width:1.5;stroke-dasharray:2 2;vector-effect:non-scaling-stroke}
.renew{stroke:#0969da;stroke-width:3;vector-effect:non-scaling-stroke}
.now{stroke:var(--ink);stroke-width:2;vector-effect:non-scaling-stroke}
.legend{font-size:.8rem;color:var(--mute);display:flex;flex-wrap:wrap;gap:.2rem .8rem;align-items:center;margin:.2rem 0}
.legend span{display:inline-block;width:18px;height:10px;vertical-align:middle}
.lg-bar{background:var(--ok);opacity:.8}.lg-now{border-left:2px solid var(--ink);width:2px!important}.lg-renew{border-left:3px solid #0969da;width:3px!important}
.lg-ari{background:#0969da;opacity:.25}.lg-th{border-left:2px dashed var(--ink);width:2px!important}
.axis{display:flex;justify-content:space-between;font-size:.75rem;color:var(--mute);margin:0}
.pager{margin:.8rem 0;display:flex;gap:1rem;flex-wrap:wrap}
.note,#updated.stale{color:var(--due)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.6rem 0}dt{color:var(--mute)}dd{margin:0;min-width:0}
table{border-collapse:collapse;font-size:.85rem;width:100%;display:block;overflow-x:auto}th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
.strip{list-style:none;display:flex;flex-wrap:wrap;gap:2px;padding:0}
.strip li{width:1.3rem;height:1.3rem;text-align:center;font-size:.8rem;line-height:1.3rem;color:#fff;border-radius:2px}
.o-ok{background:var(--ok)}.o-fail{background:var(--fail)}.o-cancel{background:var(--miss)}
@media (max-width:480px){main{padding:0 .6rem 1.5rem}.left{margin-left:0;width:100%}dl{grid-template-columns:1fr}dt{margin-top:.3rem}}
`;
