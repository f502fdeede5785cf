"""The HTML report's inline style and script (no fonts, no CDN: the page works offline).

The script reads everything it needs from the page itself (classes and data-
attributes that the builder writes), so no article data is ever placed inside a
<script> element, where escaping rules differ from the rest of the page.
"""

# Label colours: the terminal table's hues, darkened to read on white.
LABEL_COLOURS = {"attack": "#c62828", "retaliation": "#8e24aa", "claim": "#b26a00", "threat": "#00838f"}
FALLBACK_COLOURS = ("#2e7d32", "#1565c0", "#6d4c41", "#ad1457", "#455a64", "#558b2f")

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:#1d1d1f;background:#f6f6f4}
header,#summary,main{max-width:1100px;margin:0 auto;padding:0 20px}
header h1{font-size:22px;margin:18px 0 2px}
.meta{color:#666;margin:0 0 8px;overflow-wrap:anywhere}
#controls{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;padding:8px 20px;
display:flex;flex-wrap:wrap;gap:8px 14px;align-items:center}
#controls label{cursor:pointer;user-select:none}
#controls input[type=search]{flex:1 1 220px;min-width:180px;padding:4px 8px;font:inherit;
border:1px solid #bbb;border-radius:4px}
#shown{color:#555;font-size:13px}
h2{font-size:18px;margin:22px 0 8px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
td.name{max-width:520px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.index-wrap{max-height:360px;overflow:auto;border:1px solid #ddd;display:inline-block;max-width:100%}
.index-wrap table{border:0}
.index-wrap th{position:sticky;top:0;background:#f0f0ee}
svg.chart{display:block;width:100%;height:auto;background:#fff;border:1px solid #ddd;margin:8px 0}
.legend span{margin-right:14px;font-size:13px}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.art{background:#fff;border:1px solid #ddd;border-radius:6px;padding:4px 16px 10px;margin:16px 0;
content-visibility:auto;contain-intrinsic-size:auto 700px}
.art h2{overflow-wrap:anywhere}
.art table{margin-bottom:6px}
ol.sents{margin:0;padding-left:2.6em}
li.s{padding:3px 0;border-bottom:1px solid #f0f0f0;overflow-wrap:anywhere}
li.s.none{color:#555}
.chip{display:inline-block;font-size:11px;line-height:16px;padding:0 6px;margin-left:6px;border-radius:8px;
color:#fff;vertical-align:1px;cursor:help;white-space:nowrap}
u.r{text-decoration-thickness:2px;text-underline-offset:2px;cursor:help}
u.r.m{text-decoration-style:double}
[hidden]{display:none!important}
footer{max-width:1100px;margin:20px auto 40px;padding:0 20px;color:#777;font-size:12px}
"""

# Filtering and search. Label boxes: a sentence shows when it has any checked label
# (or, with "no label" checked, none); all boxes unchecked means no label filter.
JS = """
(function(){
var boxes=[].slice.call(document.querySelectorAll('#controls input[data-f]'));
var q=document.getElementById('q'),shown=document.getElementById('shown');
var arts=[].slice.call(document.querySelectorAll('section.art'));
var sents=arts.map(function(a){return [].slice.call(a.querySelectorAll('li.s'));});
var lower=null,timer=null;
function apply(){
  var want={},any=false;
  boxes.forEach(function(b){if(b.checked){want[b.getAttribute('data-f')]=1;any=true;}});
  var needle=q.value.trim().toLowerCase();
  if(needle&&!lower){lower=sents.map(function(l){return l.map(function(s){return s.textContent.toLowerCase();});});}
  var nS=0,nA=0,total=0;
  sents.forEach(function(list,ai){
    var vis=0;
    list.forEach(function(s,si){
      total++;
      var ok=true;
      if(any){ok=false;var ls=(s.getAttribute('data-l')||'n').split(' ');
        for(var i=0;i<ls.length;i++){if(want[ls[i]]){ok=true;break;}}}
      if(ok&&needle){ok=lower[ai][si].indexOf(needle)>=0;}
      if(s.hidden===ok){s.hidden=!ok;}
      if(ok){vis++;}
    });
    var hide=vis===0&&(any||needle.length>0);
    if(arts[ai].hidden!==hide){arts[ai].hidden=hide;}
    nS+=vis;if(!hide){nA++;}
  });
  shown.textContent=(any||needle)?('showing '+nS+' of '+total+' sentences in '+nA+' articles'):'';
}
boxes.forEach(function(b){b.addEventListener('change',apply);});
q.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(apply,150);});
})();
"""
