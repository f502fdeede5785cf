// Filtering and search. Label boxes: a sentence shows when it has any checked label
// (or, with "no label" checked, none); all boxes unchecked means no label filter.
// Everything is read from the page (classes and data- attributes): no article text is
// ever placed inside this script, where HTML escaping does not apply.
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
