() => {
 const rs = Array.from(document.querySelectorAll('#cr-graph svg text')).filter(t => t.textContent.trim() && getComputedStyle(t).visibility !== 'hidden').map(t => [t.textContent, t.getBBox ? t.getBBox() : null, t.getBoundingClientRect()]);
 const out = [];
 for (let i=0;i<rs.length;i++) for (let j=i+1;j<rs.length;j++){const a=rs[i][2], b=rs[j][2];
   if (a.left < b.right-1 && b.left < a.right-1 && a.top < b.bottom-1 && b.top < a.bottom-1) out.push([rs[i][0], rs[j][0]]);}
 const cl = Array.from(document.querySelectorAll('#cr-graph svg .cluster rect')).map(r=>r.getBoundingClientRect());
 let co=0; for (let i=0;i<cl.length;i++) for (let j=i+1;j<cl.length;j++){const a=cl[i], b=cl[j]; if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) co++;}
 const svg=document.querySelector('#cr-graph svg');
 const vb = svg.viewBox.baseVal; 
 const clipped = rs.filter(r => r[1] && (r[1].x < vb.x - 0.5 || r[1].x + r[1].width > vb.x + vb.width + 0.5 || r[1].y < vb.y - 0.5 || r[1].y + r[1].height > vb.y + vb.height + 0.5)).map(r=>r[0]);
 return [out.length, out.slice(0,4), co, clipped];
}
