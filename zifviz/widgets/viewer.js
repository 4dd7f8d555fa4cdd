// Browser side of zifviz.widgets.StructureViewer (package data, sent once per view).
//
// Runs inside nglview 3.1.4's NGLView through its executeCode message: `this` is the view,
// `NGL` the NGL module. It installs a listener for the viewer's own messages, which carry
// data only (JSON + binary buffers, never code):
//
//   {zifviz: "level", level, version, n, radius_by_element, bond_radius, bond_style}
//        + buffers [numbers u8, positions f32, pairs u32, shifts i16, cell f32, color index u16]
//        builds (once per level and version) one NGL structure component drawn as spheres,
//        coloured by a scheme that reads the index array, and one shape with the bonds
//        (each as two half bonds: periodic bonds look right at the cell edges; cylinders, or
//        lines for big systems) and the cell;
//   {zifviz: "frame", level, frame, serial, has: {...}}  + buffers positions f32, shifts i16,
//        cell f32 and, when they changed, pairs u32 / colour index u16:
//        updates the positions in place (structure.updatePosition); hidden levels keep the
//        newest frame and apply it when shown;
//   {zifviz: "colors", level, palette, serial} + buffer index u16;
//   {zifviz: "show", level, serial, fit}, {zifviz: "highlight", level, indices},
//   {zifviz: "focus", level, index}: the camera moves to item index (centred) and zooms on
//        it and its bonded neighbours (at their bonded images, see focusPoints);
//   {zifviz: "fit"},
//   {zifviz: "orient", matrix}: a saved camera (nglview's 16 numbers), applied after the fit.
//
// The level toggle buttons of the same viewer flip visibility here, without waiting for
// the kernel; a click on an atom or bead is sent back as {zifviz: "pick", level, index, frame}.
(function (view, NGL) {
  if (view.__zifviz) { return; }
  const stage = view.stage;
  const el = view.el;
  const S = view.__zifviz = {levels: {}, wanted: null, shown: null, frame: 0, serial: 0,
                             chain: Promise.resolve(), labels: {}, fitted: false};
  el.zifvizStage = stage;
  el.zifvizState = S;
  el.zifvizNGL = NGL;
  stage.setParameters({cameraType: "orthographic"});
  const CLIP_DIST = stage.parameters.clipDist || 10;  // NGL's default; a focus moves it
  // a left click picks (reported to Python) without moving the camera; the middle button
  // still centres on the atom clicked (NGL's default)
  if (stage.mouseControls && stage.mouseControls.remove) {
    stage.mouseControls.remove("clickPick-left");
  }

  const view32 = (b, T) => {
    if (!b) { return new T(0); }
    const buf = b.buffer ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : b;
    return new T(buf);
  };
  const hexToInt = (h) => parseInt(h.slice(1), 16);
  const mark = (k) => { el.dataset[k] = String(performance.now()); };

  // --- PDB text for NGL's parser (built here from the binary arrays, once per level)
  const SYMBOLS = ["X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al",
    "Si", "P", "S", "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr"];
  const sym = (z) => SYMBOLS[z] || "X";
  const pad = (s, n) => (s.length >= n ? s.slice(0, n) : " ".repeat(n - s.length) + s);
  const padr = (s, n) => (s.length >= n ? s.slice(0, n) : s + " ".repeat(n - s.length));
  const pdbText = (numbers, pos) => {
    const lines = new Array(numbers.length + 1);
    for (let i = 0; i < numbers.length; i++) {
      const e = sym(numbers[i]);
      lines[i] = "HETATM" + pad(String((i % 99999) + 1), 5) + " " + padr(e.toUpperCase(), 4)
        + " MOL A" + pad(String((i % 9999) + 1), 4) + "    "
        + pad(pos[3 * i].toFixed(3), 8) + pad(pos[3 * i + 1].toFixed(3), 8)
        + pad(pos[3 * i + 2].toFixed(3), 8) + "  1.00  0.00          " + pad(e.toUpperCase(), 2);
    }
    lines[numbers.length] = "END";
    return lines.join("\n");
  };

  // --- bonds as half bonds, and the cell edges
  const halfBonds = (L) => {
    const p = L.positions, c = L.cell, pr = L.pairs, sh = L.shifts, nb = pr.length / 2;
    const p1 = new Float32Array(nb * 6), p2 = new Float32Array(nb * 6);
    for (let k = 0; k < nb; k++) {
      const i = pr[2 * k], j = pr[2 * k + 1];
      const s0 = sh[3 * k], s1 = sh[3 * k + 1], s2 = sh[3 * k + 2];
      for (let d = 0; d < 3; d++) {
        const off = s0 * c[d] + s1 * c[3 + d] + s2 * c[6 + d];
        const ri = p[3 * i + d], rj = p[3 * j + d];
        const half = 0.5 * (rj + off - ri);
        p1[6 * k + d] = ri; p2[6 * k + d] = ri + half;          // from i towards j
        p1[6 * k + 3 + d] = rj; p2[6 * k + 3 + d] = rj - half;  // from j towards i
      }
    }
    return {p1, p2};
  };
  const bondColors = (L) => {
    const pr = L.pairs, nb = pr.length / 2, col = new Float32Array(nb * 6);
    for (let k = 0; k < nb; k++) {
      for (let e = 0; e < 2; e++) {
        const c = L.colors[L.index[pr[2 * k + e]]] || 0xb4b4b4;
        col[6 * k + 3 * e] = ((c >> 16) & 255) / 255;
        col[6 * k + 3 * e + 1] = ((c >> 8) & 255) / 255;
        col[6 * k + 3 * e + 2] = (c & 255) / 255;
      }
    }
    return col;
  };
  const cellEdges = (c) => {
    const corner = (a, b, d) => [0, 1, 2].map((k) => a * c[k] + b * c[3 + k] + d * c[6 + k]);
    const p1 = [], p2 = [];
    for (const [a, b, d] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1],
      [0, 1, 1], [1, 1, 1]]) {
      for (const k of [0, 1, 2]) {
        const q = [a, b, d];
        if (q[k] === 0) { q[k] = 1; p1.push(...corner(a, b, d)); p2.push(...corner(...q)); }
      }
    }
    return {p1: new Float32Array(p1), p2: new Float32Array(p2)};
  };

  const buildShape = (L) => {
    if (L.shapeComp) { stage.removeComponent(L.shapeComp); L.shapeComp = null; }
    const shape = new NGL.Shape("zifviz bonds " + L.level, {});
    const hb = halfBonds(L), col = bondColors(L), nh = hb.p1.length / 3;
    L.bondBuffer = null;
    if (nh > 0 && L.bondStyle === "lines") {
      // big systems: sticks would be thinner than a pixel, and cylinders cost ~10 us each
      // to render in software WebGL; lines look the same there and cost ~1 us
      L.bondBuffer = new NGL.WidelineBuffer({position1: hb.p1, position2: hb.p2, color: col,
        color2: col}, {linewidth: L.lineWidth});
      shape.addBuffer(L.bondBuffer);
    } else if (nh > 0) {
      L.bondBuffer = new NGL.CylinderBuffer({position1: hb.p1, position2: hb.p2, color: col,
        color2: col, radius: new Float32Array(nh).fill(L.bondRadius)});
      shape.addBuffer(L.bondBuffer);
    }
    const ce = cellEdges(L.cell), grey = new Float32Array(ce.p1.length).fill(0.45);
    L.cellBuffer = new NGL.CylinderBuffer({position1: ce.p1, position2: ce.p2, color: grey,
      color2: grey, radius: new Float32Array(12).fill(0.06)});
    shape.addBuffer(L.cellBuffer);
    L.shapeComp = stage.addComponentFromObject(shape);
    L.shapeComp.addRepresentation("buffer", CUT);
    L.shapeComp.setVisibility(L.on);
    L.nBonds = L.pairs.length / 2;
  };

  const updateShape = (L, colorsToo) => {
    if (!L.shapeComp || L.nBonds !== L.pairs.length / 2 || !L.bondBuffer
        || typeof L.bondBuffer.setAttributes !== "function") { buildShape(L); return; }
    const hb = halfBonds(L), ce = cellEdges(L.cell);
    const attrs = {position1: hb.p1, position2: hb.p2};
    if (colorsToo) { const col = bondColors(L); attrs.color = col; attrs.color2 = col; }
    L.bondBuffer.setAttributes(attrs);
    L.cellBuffer.setAttributes({position1: ce.p1, position2: ce.p2});
  };

  // a sphere or stick cut by the near clip plane shows its inside: NGL's default paints it
  // dark grey (a black disk in the picture); here it is the item's own colour, a bit darker
  const CUT = {useInteriorColor: false, diffuseInterior: true, interiorDarkening: 0.25};

  // --- one level: structure component + shape
  const schemeFor = (L) => NGL.ColormakerRegistry.addScheme(function () {
    this.atomColor = (atom) => L.colors[L.index[atom.index]];
  }, "zifviz " + L.level + " " + L.version);

  const buildLevel = (msg, bufs) => {
    const old = S.levels[msg.level];
    if (old) { dropLevel(old); }
    const L = S.levels[msg.level] = {
      level: msg.level, version: msg.version, on: false, ready: false, pending: null,
      numbers: view32(bufs[0], Uint8Array), positions: view32(bufs[1], Float32Array),
      pairs: view32(bufs[2], Uint32Array), shifts: view32(bufs[3], Int16Array),
      cell: view32(bufs[4], Float32Array), index: view32(bufs[5], Uint16Array),
      colors: (msg.palette || []).map(hexToInt), bondRadius: msg.bond_radius, frame: msg.frame,
      maxRadius: Math.max(0.5, ...Object.values(msg.radius_by_element || {})),
      bondStyle: msg.bond_style || "cylinders", lineWidth: msg.line_width || 2,
      comp: null, shapeComp: null, highlight: null,
    };
    const blob = new Blob([pdbText(L.numbers, L.positions)], {type: "text/plain"});
    return stage.loadFile(blob, {ext: "pdb", defaultRepresentation: false,
                                 name: "zifviz " + msg.level})
      .then((comp) => new Promise((resolve) => {
        if (S.levels[msg.level] !== L) { stage.removeComponent(comp); resolve(); return; }
        L.comp = comp;
        comp.setVisibility(false);
        comp.structure.updatePosition(L.positions);
        L.scheme = schemeFor(L);
        const named = Object.keys(msg.radius_by_element);
        for (const e of named) {
          comp.addRepresentation("spacefill", {sele: "_" + e.toUpperCase(), color: L.scheme,
            radiusType: "size", radiusSize: msg.radius_by_element[e], ...CUT});
        }
        buildShape(L);
        stage.tasks.onZeroOnce(() => {
          L.ready = true;
          if (L.pending) { const f = L.pending; L.pending = null; applyFrame(L, f); }
          showWanted();
          resolve();
        });
      }));
  };

  const dropLevel = (L) => {
    if (L.comp) { stage.removeComponent(L.comp); }
    if (L.shapeComp) { stage.removeComponent(L.shapeComp); }
    if (L.scheme) { NGL.ColormakerRegistry.removeScheme(L.scheme); }
    L.comp = L.shapeComp = null;
  };

  // --- frames and colours
  // a frame message as arrays; a newer frame keeps the pairs / colours of an older one that
  // was not drawn yet (hidden level) unless it brings its own
  const parseFrame = (msg, bufs, older) => {
    let k = 0;
    const f = {frame: msg.frame, positions: view32(bufs[k++], Float32Array),
               shifts: view32(bufs[k++], Int16Array), cell: view32(bufs[k++], Float32Array)};
    if (msg.has.pairs) { f.pairs = view32(bufs[k++], Uint32Array); }
    if (msg.has.index) { f.index = view32(bufs[k++], Uint16Array); f.palette = msg.palette; }
    if (older) {
      if (!f.pairs && older.pairs) { f.pairs = older.pairs; }
      if (!f.index && older.index) { f.index = older.index; f.palette = older.palette; }
    }
    return f;
  };

  const applyFrame = (L, f) => {
    L.positions = f.positions;
    L.shifts = f.shifts;
    L.cell = f.cell;
    if (f.pairs) { L.pairs = f.pairs; }
    const colorsToo = Boolean(f.index);
    if (colorsToo) { L.index = f.index; L.colors = f.palette.map(hexToInt); }
    L.frame = f.frame;
    L.comp.structure.updatePosition(L.positions);
    L.comp.updateRepresentations(colorsToo ? {position: true, color: true} : {position: true});
    updateShape(L, colorsToo);
    stage.viewer.requestRender();
  };

  const applyColors = (L, msg, bufs) => {
    L.index = view32(bufs[0], Uint16Array);
    L.colors = msg.palette.map(hexToInt);
    L.comp.updateRepresentations({color: true});
    updateShape(L, true);
    stage.viewer.requestRender();
  };

  // --- showing one level
  const fit = () => {
    const L = S.levels[S.shown];
    if (!L || !L.comp) { return; }
    stage.setParameters({clipDist: CLIP_DIST});  // a focus moved it
    stage.autoView(0);
    L.comp.autoView(0);
    const m = stage.viewer.rotationGroup.matrix.elements;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const add = (x, y, z) => {
      const u = m[0] * x + m[4] * y + m[8] * z, v = m[1] * x + m[5] * y + m[9] * z;
      if (u < x0) { x0 = u; } if (u > x1) { x1 = u; }
      if (v < y0) { y0 = v; } if (v > y1) { y1 = v; }
    };
    const p = L.positions;
    for (let i = 0; i < p.length; i += 3) { add(p[i], p[i + 1], p[i + 2]); }
    const c = L.cell;
    for (const [a, b, d] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1],
      [0, 1, 1], [1, 1, 1]]) {
      add(a * c[0] + b * c[3] + d * c[6], a * c[1] + b * c[4] + d * c[7],
          a * c[2] + b * c[5] + d * c[8]);
    }
    const w = stage.viewer.width || 1, h = stage.viewer.height || 1;
    const pad = 1.5; // Å of margin for the spheres
    const need = Math.max(y1 - y0 + 2 * pad, (x1 - x0 + 2 * pad) * h / w) * 1.04;
    const fov = (stage.parameters.cameraFov || 40) * Math.PI / 180;
    const dist = need / (2 * Math.tan(fov / 2));
    if (stage.viewerControls.distance) { stage.viewerControls.distance(dist); }
    stage.viewer.requestRender();
    S.fitted = true;
  };

  const showWanted = () => {
    const want = S.levels[S.wanted];
    if (!want || !want.ready) { return; }
    if (want.pendingFrame) {
      const f = want.pendingFrame; want.pendingFrame = null; applyFrame(want, f);
    }
    for (const L of Object.values(S.levels)) {
      const on = L === want;
      if (L.ready && L.on !== on) {
        L.on = on;
        L.comp.setVisibility(on);
        if (L.shapeComp) { L.shapeComp.setVisibility(on); }
        if (L.highlight) { L.highlight.setVisibility(on); }
      }
    }
    S.shown = S.wanted;
    if (!S.fitted || S.fitPending) { S.fitPending = false; fit(); }
    if (S.orientation) { orient(); }
    el.dataset.zifvizScene = S.shown;
    el.dataset.zifvizFrame = String(want.frame);
    el.dataset.zifvizDrawn = String(++S.serial);
    mark("zifvizDrawnAt");
  };

  const show = (level) => { S.wanted = level; showWanted(); };
  const orient = () => {
    stage.viewerControls.orient(S.orientation);
    S.orientation = null;
    stage.viewer.requestRender();
  };

  // --- highlight, focus, picking
  const highlight = (L, indices, radius) => {
    if (L.highlight) { L.comp.removeRepresentation(L.highlight); L.highlight = null; }
    if (indices.length) {
      L.highlight = L.comp.addRepresentation("spacefill", {
        sele: "@" + indices.join(","), color: "#ffc400", radiusType: "size", radiusSize: radius});
      L.highlight.setVisibility(L.on);
    }
    el.dataset.zifvizHighlighted = String(indices.length);
  };

  // the camera on item i, zoomed so that it and its bonded neighbours fill the view. The
  // neighbours are taken at their bonded image (r_j + S @ cell): one bonded across the cell
  // edge is drawn on the other side, and with it NGL's autoView("@i,j,...") framed half the
  // cell, off centre (and its zoom keeps the box depth plus a 10 A clip margin: no zoom).
  const focusPoints = (L, i) => {
    const p = L.positions, c = L.cell, pr = L.pairs, sh = L.shifts;
    const at = (k, s, k2) => [0, 1, 2].map((d) => p[3 * k + d]
      + s * (sh[3 * k2] * c[d] + sh[3 * k2 + 1] * c[3 + d] + sh[3 * k2 + 2] * c[6 + d]));
    const pts = [[p[3 * i], p[3 * i + 1], p[3 * i + 2]]];
    for (let b = 0; b < pr.length / 2; b++) {
      if (pr[2 * b] === i) { pts.push(at(pr[2 * b + 1], 1, b)); }
      if (pr[2 * b + 1] === i) { pts.push(at(pr[2 * b], -1, b)); }
    }
    return pts;
  };
  // NGL clips everything nearer to the camera than clipDist, and a sphere the plane cuts
  // shows its inside (a flat disk). The plane goes at depth q in front of the item, from just
  // in front of its neighbours (q0) to 6 A further: moving it out uncuts spheres but shows
  // more of what lies in front. Cost of a q: 1 for a sphere cut (an opaque flat disk), 2 if
  // it is over the item and its neighbours (box |u| < bu, |v| < bv), 1.5 for a whole sphere
  // shown in front of them there; the cheapest (nearest on a tie) wins. Orthographic camera:
  // the view spans the same at any depth.
  const clipDepth = (L, [x0, y0, z0], m, q0, half, box, bRadius) => {
    const p = L.positions, n = p.length / 3, r = L.maxRadius;
    const zs = [], over = [];
    for (let k = 0; k < n; k++) {
      const dx = p[3 * k] - x0, dy = p[3 * k + 1] - y0, dz = p[3 * k + 2] - z0;
      const u = Math.abs(m[0] * dx + m[4] * dy + m[8] * dz);
      const v = Math.abs(m[1] * dx + m[5] * dy + m[9] * dz);
      const z = -(m[2] * dx + m[6] * dy + m[10] * dz);  // towards the camera: > 0
      if (z > q0 - r && u < half[0] + r && v < half[1] + r) {
        zs.push(z);
        over.push(u < box[0] + r && v < box[1] + r);
      }
    }
    let best = q0, lowest = Infinity, cutAtBest = 0;
    for (let q = q0; q <= Math.min(q0 + 6, bRadius) + 1e-6; q += 0.1) {
      let cost = 0, cut = 0;
      for (let k = 0; k < zs.length; k++) {
        if (Math.abs(zs[k] - q) < r) { cut++; cost += over[k] ? 2 : 1; }
        else if (over[k] && zs[k] > q0 && zs[k] < q) { cost += 1.5; }
      }
      if (cost < lowest) { lowest = cost; best = q; cutAtBest = cut; }
      if (cost === 0) { break; }
    }
    el.dataset.zifvizFocusCut = String(cutAtBest);
    return best;
  };
  const focus = (L, i, duration) => {
    const pts = focusPoints(L, i), m = stage.viewer.rotationGroup.matrix.elements;
    const [x0, y0, z0] = pts[0];
    let hu = 0, hv = 0, hw = 0;  // half extents around the item: on the screen, in depth
    for (const [x, y, z] of pts) {
      const dx = x - x0, dy = y - y0, dz = z - z0;
      hu = Math.max(hu, Math.abs(m[0] * dx + m[4] * dy + m[8] * dz));
      hv = Math.max(hv, Math.abs(m[1] * dx + m[5] * dy + m[9] * dz));
      hw = Math.max(hw, Math.abs(m[2] * dx + m[6] * dy + m[10] * dz));
    }
    const w = stage.viewer.width || 1, h = stage.viewer.height || 1;
    const pad = 1.5; // A of margin for the spheres
    const need = Math.max(8, Math.max(2 * hv + 2 * pad, (2 * hu + 2 * pad) * h / w) * 1.1);
    const tanHalf = Math.tan((stage.parameters.cameraFov || 40) * Math.PI / 360);
    // the camera stays behind the default clip distance (10 A, as NGL's own autoView) plus
    // the neighbours' depth; the clip plane goes just in front of the neighbours, so that
    // what lies further in front (the front of the cell when the Zn is at its back) does not
    // hide them, into a gap between spheres
    const front = CLIP_DIST + hw + pad;
    const dist = Math.max(need / (2 * tanHalf), front);
    const halfV = tanHalf * dist;
    const q = clipDepth(L, pts[0], m, hw + pad, [halfV * w / h, halfV], [hu + pad, hv + pad],
                        Math.max(10, stage.viewer.bRadius || 0));
    stage.setParameters({clipDist: Math.max(0.1, dist - q)});
    const ac = stage.animationControls;
    if (S.focusing) { for (const a of S.focusing.list || []) { ac.remove(a); } }
    const target = NGL.Vector3 ? new NGL.Vector3(x0, y0, z0) : [x0, y0, z0];
    S.focusing = ac.zoomMove(target, -dist, duration);
    stage.viewer.requestRender();
  };

  stage.signals.clicked.add((pp) => {
    if (!pp || !pp.atom) { return; }
    for (const L of Object.values(S.levels)) {
      if (L.comp && pp.component === L.comp) {
        view.model.send({zifviz: "pick", level: L.level, index: pp.atom.index, frame: L.frame});
      }
    }
  });

  // level toggle: flip here at once; the kernel follows through the widget's value
  const onToggleClick = (ev) => {
    const btn = ev.target && ev.target.closest ? ev.target.closest(".zifviz-level button") : null;
    if (!btn) { return; }
    const box = btn.closest(".zifviz-structure-viewer");
    if (!box || !box.contains(el)) { return; }
    const level = S.labels[btn.textContent.trim()];
    if (level && S.levels[level]) { mark("zifvizClickedAt"); show(level); }
  };
  document.addEventListener("click", onToggleClick, true);
  view.once("remove", () => document.removeEventListener("click", onToggleClick, true));

  // --- messages from the kernel (data only)
  const handle = (msg, bufs) => {
    mark("zifvizReceivedAt");
    el.dataset.zifvizMessages = String((parseInt(el.dataset.zifvizMessages || "0", 10)) + 1);
    el.dataset.zifvizLastMessage = msg.zifviz + " " + (msg.level || "");
    if (msg.labels) { S.labels = msg.labels; }
    const L = S.levels[msg.level];
    switch (msg.zifviz) {
      case "level":
        if (L && L.version === msg.version) { return; }
        S.chain = S.chain.then(() => buildLevel(msg, bufs))
          .catch((err) => console.error("zifviz: level " + msg.level + " failed", err));
        return;
      case "frame":
        if (!L) { return; }
        if (!L.ready) { L.pending = parseFrame(msg, bufs, L.pending); return; }
        if (L.level !== S.shown) {
          L.pendingFrame = parseFrame(msg, bufs, L.pendingFrame);
          L.frame = msg.frame;
          return;
        }
        applyFrame(L, parseFrame(msg, bufs, null));
        stage.tasks.onZeroOnce(() => {
          el.dataset.zifvizFrame = String(msg.frame);
          el.dataset.zifvizDrawn = String(++S.serial);
          mark("zifvizDrawnAt");
        });
        return;
      case "colors":
        if (!L) { return; }
        S.chain = S.chain.then(() => {
          if (S.levels[msg.level] !== L || !L.ready) { return; }
          if (L.pendingFrame) { delete L.pendingFrame.index; }  // these colours are newer
          applyColors(L, msg, bufs);
          if (L.level === S.shown) { el.dataset.zifvizDrawn = String(++S.serial); mark("zifvizDrawnAt"); }
        });
        return;
      case "show":
        if (msg.fit) { S.fitPending = true; }
        show(msg.level);
        return;
      case "fit":
        S.fitPending = true; showWanted();
        return;
      case "orient":
        S.orientation = msg.matrix;
        if (S.fitted) { orient(); }
        return;
      case "highlight":
        S.chain = S.chain.then(() => {
          const Lh = S.levels[msg.level];
          if (Lh && Lh.ready) { highlight(Lh, msg.indices, msg.radius); stage.viewer.requestRender(); }
        });
        return;
      case "focus":
        S.chain = S.chain.then(() => {
          const Lf = S.levels[msg.level];
          if (Lf && Lf.ready && msg.index < Lf.positions.length / 3) {
            focus(Lf, msg.index, 300);
          }
          el.dataset.zifvizFocused = String(msg.index);
        });
        return;
      default:
        return;
    }
  };
  view.listenTo(view.model, "msg:custom", (msg, buffers) => {
    if (msg && msg.zifviz) { handle(msg, buffers || msg.buffers || []); }
  });
  el.dataset.zifvizReady = "1";
})(this, NGL);
