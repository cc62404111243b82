/*
 * profile_html.c -- the heap profiler's HTML report: one file that opens in
 * any browser with no network (no external script, style sheet or font).
 *
 * The file is the page's markup and script, fixed text, with the profile as
 * one JSON object (`const D = ...`) between them: the frame names once
 * each, and per site its stack as indexes into them (root first) and its
 * figures.  The script builds everything else in the browser: a flame
 * graph (SVG; click a frame to zoom into it, click the root to zoom out;
 * hovering shows the frame's bytes and calls) of the bytes at the peak, of
 * every byte allocated, of the calls or of the leaks; a chart (SVG) of the
 * heap and RSS over time; and the tables of the top sites.
 *
 * Every string from the program (frame names, the command) goes through
 * prof_json_string, which escapes '<', so nothing can close the script.
 */
#include "profile.h"

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>stackheap heap profile</title>\n<style>\n"
    "body{font:14px sans-serif;margin:1em 2em;color:#222}\n"
    "h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}\n"
    "#flame svg,#chart svg{border:1px solid #ccc;background:#fff}\n"
    ".frame rect{stroke:#fff;stroke-width:.5;cursor:pointer}\n"
    ".frame text{font:11px monospace;pointer-events:none}\n"
    "#hover{font:12px monospace;min-height:1.3em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{border:1px solid #ddd;padding:2px 6px;font:12px monospace;text-align:left}\n"
    "td.n{text-align:right}\n"
    ".heap{stroke:#c33;fill:none;stroke-width:1.5}.rss{stroke:#36c;fill:none;stroke-width:1.5}\n"
    "</style></head><body>\n"
    "<h1>stackheap heap profile</h1>\n<p id=\"summary\"></p>\n"
    "<h2>Heap and RSS over time</h2>\n<div id=\"chart\"></div>\n"
    "<h2>Flame graph of <select id=\"metric\">"
    "<option value=\"peak\">bytes live at the peak</option>"
    "<option value=\"allocated\">bytes allocated</option>"
    "<option value=\"calls\">allocation calls</option>"
    "<option value=\"leaked\">bytes leaked</option></select></h2>\n"
    "<p>Click a frame to zoom into it, the bottom frame to zoom out; hover for its figures.</p>\n"
    "<div id=\"hover\"></div><div id=\"flame\"></div>\n"
    "<h2>Top allocation sites</h2>\n<div id=\"tables\"></div>\n<script>\nconst D = ";

/* pieces of at most a few hundred bytes: C11 promises string literals of 4095 */
static const char *const page_script[] = {
    ";\n</script>\n<script>\n",
    "'use strict';\n",
    "const NS='http://www.w3.org/2000/svg';\n",
    "function el(n,a,p){const e=document.createElementNS(NS,n);for(const k in "
    "a)e.setAttribute(k,a[k]);"
    "if(p)p.appendChild(e);return e;}\n",
    "function B(b){const u=['B','KiB','MiB','GiB','TiB'];let i=0;while(b>=1024&&i<4){b/=1024;i++;}"
    "return (i?b.toFixed(2):b)+' '+u[i];}\n",
    "function V(m,v){return m==='calls'?v+' calls':B(v);}\n",
    "const K={peak:0,allocated:1,calls:2,temporary:3,leaked:4};\n",
    "document.getElementById('summary').textContent='Mode '+D.mode+(D.mode==='sampled'?"
    "' (one sample per '+B(D.sample_bytes)+' allocated on average; figures are estimates)':'')+"
    "': peak heap '+B(D.peak)+', peak RSS '+B(D.peak_rss)+', '+D.calls+' allocations ('+"
    "B(D.allocated)+'), '+D.temporary+' temporary, '+B(D.leaked)+' leaked in '+D.leaked_blocks+"
    "' blocks, '+D.ms+' ms. Command: '+D.command;\n",
    "function tree(m){const k=K[m],root={n:'all',v:0,c:0,ch:new Map(),p:null,d:0};let depth=0;"
    "for(const s of D.sites){const v=s[1][k];if(!v)continue;root.v+=v;root.c+=s[1][2];let x=root;"
    "for(const f of s[0]){let y=x.ch.get(f);if(!y){y={n:D.frames[f],k:f,v:0,c:0,ch:new "
    "Map(),p:x,d:x.d+1};"
    "x.ch.set(f,y);}y.v+=v;y.c+=s[1][2];x=y;}if(x.d>depth)depth=x.d;}root.depth=depth;return "
    "root;}\n",
    "let focus=null,cur=null;\n",
    "function color(n){let h=0;for(let i=0;i<n.length;i++)h=(h*31+n.charCodeAt(i))>>>0;"
    "return 'hsl('+(h%50)+','+(60+h%30)+'%,'+(55+h%15)+'%)';}\n",
    "function flame(){const m=document.getElementById('metric').value;const root=tree(m);cur=root;"
    "const W=1200,R=18,H=(root.depth+1)*R+4;const box=document.getElementById('flame');"
    "box.textContent='';const svg=el('svg',{width:W,height:H,id:'flamegraph'},box);"
    "if(!root.v){const t=el('text',{x:10,y:14},svg);t.textContent='(nothing to show)';return;}"
    "let f=root;if(focus){for(const x of focus){const y=f.ch.get(x);if(!y)break;f=y;}}"
    "const path=[];for(let x=f;x;x=x.p)path.unshift(x);"
    "function draw(n,x,w){const y=H-(n.d+1)*R;const g=el('g',{'class':'frame'},svg);"
    "g.setAttribute('data-name',n.n);g.setAttribute('data-value',n.v);"
    "const t=el('title',{},g);t.textContent=n.n+': '+V(m,n.v)+' ('+(100*n.v/root.v).toFixed(1)+"
    "'%), '+n.c+' calls';"
    "el('rect',{x:x,y:y,width:Math.max(w,.5),height:R-1,fill:color(n.n)},g);"
    "if(w>30){const s=el('text',{x:x+3,y:y+R-6},g);const c=Math.floor((w-6)/7);"
    "s.textContent=n.n.length>c?n.n.slice(0,Math.max(c-2,0))+'..':n.n;}"
    "g.addEventListener('mouseover',()=>{document.getElementById('hover').textContent=t."
    "textContent;});"
    "g.addEventListener('click',()=>{const p=[];for(let z=n;z.p;z=z.p)p.unshift(z.k);"
    "focus=p.length?p:null;flame();});return g;}\n",
    "for(const n of path)if(n!==f)draw(n,0,W);"
    "(function sub(n,x,w){draw(n,x,w);let cx=x;for(const c of n.ch.values()){const cw=w*c.v/n.v;"
    "if(cw>=.2)sub(c,cx,cw);cx+=cw;}})(f,0,W);}\n",
    "document.getElementById('metric').addEventListener('change',()=>{focus=null;flame();});\n",
    "function chart(){const S=D.samples,W=1200,H=260,L=80,T=10,Bt=30;const "
    "box=document.getElementById('chart');"
    "const svg=el('svg',{width:W,height:H,id:'timeline'},box);"
    "const tmax=Math.max(1,...S.map(s=>s[0])),ymax=Math.max(1,...S.map(s=>Math.max(s[1],s[2])));"
    "const X=t=>L+(W-L-10)*t/tmax,Y=v=>T+(H-T-Bt)*(1-v/ymax);"
    "el('line',{x1:L,y1:Y(0),x2:W-10,y2:Y(0),stroke:'#888'},svg);el('line',{x1:L,y1:T,x2:L,y2:Y(0),"
    "stroke:'#888'},svg);"
    "for(let i=0;i<=4;i++){const "
    "v=ymax*i/4,t=el('text',{x:2,y:Y(v)+4,'font-size':11},svg);t.textContent=B(Math.round(v));"
    "const "
    "u=el('text',{x:X(tmax*i/4)-10,y:H-10,'font-size':11},svg);u.textContent=Math.round(tmax*i/"
    "4)+' ms';}"
    "el('polyline',{'class':'heap',points:S.map(s=>X(s[0])+','+Y(s[1])).join(' ')},svg);"
    "el('polyline',{'class':'rss',points:S.map(s=>X(s[0])+','+Y(s[2])).join(' ')},svg);"
    "const a=el('text',{x:L+10,y:T+12,fill:'#c33','font-size':12},svg);a.textContent='heap (bytes "
    "live)';"
    "const b=el('text',{x:L+150,y:T+12,fill:'#36c','font-size':12},svg);b.textContent='RSS';}\n",
    "function tables(){const box=document.getElementById('tables');"
    "for(const [m,title] of [['peak','Peak memory consumers'],['calls','Most calls'],"
    "['temporary','Most temporary allocations'],['leaked','Leaked (still allocated at exit)']]){"
    "const k=K[m];const rows=D.sites.filter(s=>s[1][k]>0).sort((a,b)=>b[1][k]-a[1][k]).slice(0,10);"
    "const h=document.createElement('h3');h.textContent=title;box.appendChild(h);"
    "const t=document.createElement('table');t.id='top-'+m;box.appendChild(t);"
    "t.insertRow().innerHTML='<th>'+(m==='calls'||m==='temporary'?'calls':'bytes')+'</th><th>site</"
    "th><th>stack (root first)</th>';"
    "for(const s of rows){const r=t.insertRow();const a=r.insertCell();a.className='n';"
    "a.textContent=m==='calls'||m==='temporary'?s[1][k]:B(s[1][k]);"
    "r.insertCell().textContent=D.frames[s[0][s[0].length-1]];"
    "r.insertCell().textContent=s[0].map(f=>D.frames[f]).join(' > ');}"
    "if(!rows.length)t.insertRow().insertCell().textContent='(none)';}}\n",
    "chart();flame();tables();\n",
    "</script>\n</body></html>\n"};

static prof_writer writer;

bool prof_write_html(const prof_report *r, const char *path)
{
    prof_writer *w = &writer;
    w->n = 0;
    w->fd = sh_os_open_report(path);
    if (w->fd < 0) {
        sh_warning("profile: cannot create %s", path);
        return false;
    }
    prof_puts(w, page_head);
    prof_printf(w, "{\"mode\":\"%s\",\"sample_bytes\":%llu,\"peak\":%llu,\"peak_rss\":%llu,",
                r->mode, (unsigned long long)r->sample_bytes, (unsigned long long)r->peak,
                (unsigned long long)r->peak_rss);
    prof_printf(w, "\"allocated\":%llu,\"calls\":%llu,\"temporary\":%llu,\"leaked\":%llu,",
                (unsigned long long)r->allocated, (unsigned long long)r->calls,
                (unsigned long long)r->temporary, (unsigned long long)r->leaked);
    prof_printf(w, "\"leaked_blocks\":%llu,\"ms\":%llu,\"command\":\"",
                (unsigned long long)r->leaked_blocks, (unsigned long long)r->ms);
    prof_json_string(w, r->command != NULL ? r->command : "");
    prof_puts(w, "\",\n\"frames\":[");
    for (uint32_t i = 0; i < r->names; i++) {
        prof_puts(w, i > 0 ? ",\n\"" : "\"");
        prof_json_string(w, r->name[i]);
        prof_puts(w, "\"");
    }
    /* a site: [[frames, root first], [peak, allocated, calls, temporary, leaked]] */
    prof_puts(w, "],\n\"sites\":[");
    for (uint32_t i = 0; i < r->sites; i++) {
        const prof_site_out *s = &r->site[i];
        prof_puts(w, i > 0 ? ",\n[[" : "[[");
        for (uint32_t d = 0; d < s->depth; d++)
            prof_printf(w, d > 0 ? ",%u" : "%u", s->frame[d]);
        prof_printf(w, "],[%llu,%llu,%llu,%llu,%llu]]", (unsigned long long)s->peak,
                    (unsigned long long)s->allocated, (unsigned long long)s->calls,
                    (unsigned long long)s->temporary, (unsigned long long)s->leaked);
    }
    /* a sample: [ms, heap, rss] */
    prof_puts(w, "],\n\"samples\":[");
    for (uint32_t i = 0; i < r->samples; i++)
        prof_printf(w, i > 0 ? ",[%llu,%llu,%llu]" : "[%llu,%llu,%llu]",
                    (unsigned long long)r->sample[i].ms, (unsigned long long)r->sample[i].heap,
                    (unsigned long long)r->sample[i].rss);
    prof_puts(w, "]}");
    for (size_t i = 0; i < sizeof page_script / sizeof page_script[0]; i++)
        prof_puts(w, page_script[i]);
    prof_flush(w);
    sh_os_close(w->fd);
    return true;
}
