// The page's one inline script: polls /status (same origin) with If-None-Match, so an unchanged
// fleet costs a 304 and no body, and when the rows changed fetches the page again and swaps its
// live part. No library, no other request; the Content-Security-
// Policy allows this script by its hash and nothing else.

import { createHash } from 'node:crypto';

export const POLL_SCRIPT = `(function(){
var live=document.getElementById('live'),note=document.getElementById('updated'),last=live.getAttribute('data-etag'),ms=15000;
function tick(){
var h={accept:'application/json'};if(last!==null)h['if-none-match']=last;
fetch('status',{cache:'no-store',headers:h}).then(function(r){if(r.status===304)return;if(!r.ok)throw new Error(r.status);
var tag=r.headers.get('etag')||String(Math.random()),changed=last!==null&&tag!==last;last=tag;
if(changed){return fetch(location.href,{cache:'no-store'}).then(function(p){return p.text();}).then(function(html){
var doc=new DOMParser().parseFromString(html,'text/html'),next=doc.getElementById('live');if(next){live.innerHTML=next.innerHTML;}});}}).then(function(){note.textContent='live: checked '+new Date().toISOString().slice(11,19)+' UTC';note.className='ok';},function(){note.textContent='agent not answering: showing the last known state';note.className='stale';}).then(function(){setTimeout(tick,ms);});
}
setTimeout(tick,ms);})();`;

export const POLL_SCRIPT_HASH = `sha256-${createHash('sha256').update(POLL_SCRIPT).digest('base64')}`;

/**
 * Nothing loads from anywhere but this document (styles, the script by hash) and the agent (fetch).
 * In a <meta> element (the static report) frame-ancestors is not allowed, so only the header has it.
 */
export function contentSecurityPolicy(live: boolean, where: 'header' | 'meta' = 'header'): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    live ? `script-src '${POLL_SCRIPT_HASH}'` : "script-src 'none'",
    live ? "connect-src 'self'" : "connect-src 'none'",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    ...(where === 'header' ? ["frame-ancestors 'none'"] : []),
  ].join('; ');
}
