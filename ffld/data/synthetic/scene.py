"""The scene of one image: the 3-D face projected under its pose, as a stack of painted polygon layers.

Landmarks. All but the jaw are vertices of the projected part contours (eyelids, brows, lips, nose), so they lie on
the edges of the painted regions by construction. The jaw landmarks follow the outline of the face, as 300W
annotates them under any pose. The face's skin is the front of the convex head body up to the ear line; its outline
is the convex hull of its projected surface samples (exact for a convex surface patch under orthographic
projection). Landmark 8 is the outline point nearest to the projected chin tip (the bottom of the face's midline,
where its sections shrink to a point): on a frontal face the tip itself, on a face tilted back the middle of the
jaw's underside seen edge-on, and it moves continuously with the pose. Following the outline up from it on each
side, landmarks 0 and 16 are where it reaches the surface points at the height of the cheekbones (``jaw_top`` in the
face frame, near the ear); 1-7 and 9-15 divide the outline between them into equal arc lengths. Under yaw they thus
slide onto the occluding contour of the far cheek, like the "landmark marching" of 3-D face fitting (Zhu et al.,
2016), and onto the ear line on the near side. (Generator version 1 took the outline's lowest point, and its outline
had no sample on the midline: the outline ended in a flat edge, and landmark 8 jumped between its two corners, about
12% of the inter-ocular distance off the midline, with the sign of a sub-degree yaw or roll.)

Visibility. A surface point is hidden when its normal faces away from the camera; contours are clipped there.
After rendering, a landmark is marked occluded when the label map shows an occluder within 1.5 px of it, and
self-occluded when it faces away, lies inside a nose facet, or has another part of the face within 1.5 px
(:func:`ffld.data.synthetic.parts.neighbourhood_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ffld.data.synthetic.appearance import Appearance
from ffld.data.synthetic.facemodel import FaceGeometry, FaceParams, build_geometry
from ffld.data.synthetic.geometry import clip_polygon, convex_hull, curve_tangent, path_positions, rotation_matrix, unit
from ffld.data.synthetic.occluders import sample_occluders
from ffld.data.synthetic.parts import NUM_LANDMARKS, Label, neighbourhood_labels
from ffld.data.synthetic.raster import Layer, Paint, render_layers, textured
from ffld.data.synthetic.textures import background, fabric, hair_texture, smooth_noise

VISIBLE, OCCLUDED, SELF_OCCLUDED = 0, 1, 2
_NEIGHBOURHOOD = 1.5  # pixels
_ALLOWED = np.array([[label in neighbourhood_labels(i) for label in range(len(Label))] for i in range(NUM_LANDMARKS)])
_NEAR = np.array([(dx, dy) for dy in range(-2, 3) for dx in range(-2, 3)])


@dataclass
class Scene:
    """One image before rendering.

    Attributes:
        size: image side in pixels.
        background: planar (3, H, W) float32 background (0-255).
        layers: painted in order over the background.
        landmarks: (68, 2) clean landmarks, image coordinates.
        tangents: (68, 2) unit boundary directions at the landmarks.
        exposed: (68,) whether the surface under each landmark faces the camera and no nose facet covers it.
        occluders: kinds of the occluders in the image.
        scale: pixels per face unit (half the frontal face width).
    """

    size: int
    background: np.ndarray
    layers: list[Layer]
    landmarks: np.ndarray
    tangents: np.ndarray
    exposed: np.ndarray
    occluders: list[str]
    scale: float

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """The H×W×3 float32 RGB image (0-255, not clipped) and the H×W uint8 label map."""
        planes, labels = render_layers(self.background, self.layers)
        return cv2.merge(list(planes)), labels

    def visibility(self, labels: np.ndarray) -> np.ndarray:
        """(68,) uint8 visibility codes from the rendered label map: VISIBLE (0), OCCLUDED (1, an occluder within
        1.5 px) or SELF_OCCLUDED (2, see the module docstring)."""
        rounded = np.round(self.landmarks).astype(int)
        xs, ys = rounded[:, None, 0] + _NEAR[:, 0], rounded[:, None, 1] + _NEAR[:, 1]
        near = np.hypot(xs - self.landmarks[:, None, 0], ys - self.landmarks[:, None, 1]) <= _NEIGHBOURHOOD
        near &= (xs >= 0) & (ys >= 0) & (xs < labels.shape[1]) & (ys < labels.shape[0])
        found = labels[np.clip(ys, 0, labels.shape[0] - 1), np.clip(xs, 0, labels.shape[1] - 1)]
        occluder = (near & (found == Label.OCCLUDER)).any(axis=1)
        foreign = (near & ~np.take_along_axis(_ALLOWED, found.astype(int), axis=1)).any(axis=1)
        codes = np.where(foreign | ~self.exposed, SELF_OCCLUDED, VISIBLE)
        return np.where(occluder & self.exposed, OCCLUDED, codes).astype(np.uint8)


class _Camera:
    """Orthographic camera: image = offset + scale * (R p)[:2]."""

    def __init__(self, pose: tuple[float, float, float], scale: float) -> None:
        self.rotation, self.roll, self.scale, self.offset = rotation_matrix(*pose), pose[2], scale, np.zeros(2)

    def project(self, points: np.ndarray) -> np.ndarray:
        return self.offset + self.scale * (points @ self.rotation.T)[:, :2]

    def facing(self, normals: np.ndarray) -> np.ndarray:
        return normals @ self.rotation[2]


def _hull(points: np.ndarray) -> np.ndarray:
    return points[convex_hull(points)]


def _nearest_on_outline(
    outline: np.ndarray, heights: np.ndarray, point: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Insert into a closed polygon the point of its boundary nearest to ``point`` (unless it is a vertex).

    Returns:
        ``(outline, heights, index)``: the polygon with that point as vertex ``index``, its heights interpolated.
    """
    start, edges = outline, np.roll(outline, -1, axis=0) - outline
    t = np.clip(((point - start) * edges).sum(axis=1) / np.maximum((edges**2).sum(axis=1), 1e-12), 0.0, 1.0)
    nearest = start + t[:, None] * edges
    i = int(np.argmin(np.linalg.norm(nearest - point, axis=1)))
    if t[i] < 1e-9:
        return outline, heights, i
    if t[i] > 1 - 1e-9:
        return outline, heights, (i + 1) % len(outline)
    height = heights[i] + t[i] * (heights[(i + 1) % len(heights)] - heights[i])
    return np.insert(outline, i + 1, nearest[i], axis=0), np.insert(heights, i + 1, height), i + 1


def _jaw(outline: np.ndarray, heights: np.ndarray, chin_tip: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Jaw landmarks 0-16 on the face outline and their tangents (see the module docstring).

    Args:
        outline: (N, 2) the outline polygon, clockwise on screen.
        heights: (N,) the face-frame height y of the surface point each outline vertex comes from.
        chin_tip: (2,) the projected chin tip; landmark 8 is the outline point nearest to it.
        level: face-frame height where the jaw contour ends at both sides (landmarks 0 and 16).
    """
    outline, heights, chin = _nearest_on_outline(outline, heights, chin_tip)
    n = len(outline)
    ends, sides = [], []
    for step in (1, -1):  # clockwise from the chin: the subject's right side (landmarks 7..0), then the left
        walk = [(chin + step * k) % n for k in range(n)]
        above = np.flatnonzero(heights[walk] <= level)
        k = int(above[0]) if len(above) else n - 1
        a, b = walk[max(k - 1, 0)], walk[k]
        t = (heights[a] - level) / (heights[a] - heights[b]) if heights[a] != heights[b] else 1.0
        ends.append(outline[a] + np.clip(t, 0.0, 1.0) * (outline[b] - outline[a]))
        sides.append(walk[:k])
    path = np.concatenate([ends[0][None], outline[sides[0][::-1]], outline[sides[1][1:]], ends[1][None]])
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    middle = cum[len(sides[0])]  # arc length at the chin vertex
    arcs = np.concatenate([np.linspace(0.0, middle, 9), np.linspace(middle, cum[-1], 9)[1:]])
    total = max(cum[-1], 1e-9)
    landmarks = path_positions(path, arcs / total)
    ahead = path_positions(path, np.clip(arcs + 1.5, 0, total) / total)
    behind = path_positions(path, np.clip(arcs - 1.5, 0, total) / total)
    return landmarks, unit(ahead - behind)


def _visible_run(points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The longest run of an open polyline where ``values`` >= 0, cut at the interpolated zero crossings."""
    keep = np.concatenate([[False], values >= 0, [False]])
    edges = np.flatnonzero(np.diff(keep.astype(int)))
    if len(edges) == 0:
        return points[:0]
    starts, stops = edges[::2], edges[1::2]
    best = int(np.argmax(stops - starts))
    first, stop = starts[best], stops[best]
    run = [points[first:stop]]
    if first > 0:
        t = values[first - 1] / (values[first - 1] - values[first])
        run.insert(0, (points[first - 1] + t * (points[first] - points[first - 1]))[None])
    if stop < len(points):
        t = values[stop - 1] / (values[stop - 1] - values[stop])
        run.append((points[stop - 1] + t * (points[stop] - points[stop - 1]))[None])
    return np.concatenate(run)


def _shading(
    uv: np.ndarray, normals: np.ndarray, appearance: Appearance, size: int, mottle: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse (ambient + Lambert) and specular (Blinn-Phong) shading of the face at every pixel.

    The visible surface samples are splatted on a grid of 8×8-pixel cells and interpolated by normalised
    convolution, then upsampled: a smooth field whatever the sampling density.
    """
    light = appearance.light
    visible = (normals[:, 2] > 0) & (uv >= 0).all(axis=1) & (uv < size).all(axis=1)
    n, p = normals[visible], uv[visible]
    diffuse = light.ambient + light.diffuse * np.clip(n @ light.direction, 0.0, None)
    half = unit(light.direction + np.array([0.0, 0.0, 1.0]))
    specular = light.specular * np.clip(n @ half, 0.0, None) ** light.shininess
    cell = 8
    grid = -(-size // cell)
    flat = (p[:, 1] // cell).astype(int) * grid + (p[:, 0] // cell).astype(int)
    count, diffuse_sum, specular_sum = (
        cv2.GaussianBlur(np.bincount(flat, w, grid * grid).reshape(grid, grid).astype(np.float32), (0, 0), 1.0)
        for w in (None, diffuse, specular)
    )
    known = count > 1e-3
    fields = []
    for values, fallback in ((diffuse_sum, light.ambient + 0.5 * light.diffuse), (specular_sum, 0.0)):
        field = np.where(known, values / np.maximum(count, 1e-6), fallback).astype(np.float32)
        fields.append(cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR))
    return fields[0] * mottle, fields[1]


def _facet_normal(vertices: np.ndarray) -> np.ndarray:
    """Outward (+z in the face frame) unit normal of a planar-ish 3-D polygon (Newell's method)."""
    nxt = np.roll(vertices, -1, axis=0)
    normal = np.array([
        np.sum((vertices[:, 1] - nxt[:, 1]) * (vertices[:, 2] + nxt[:, 2])),
        np.sum((vertices[:, 2] - nxt[:, 2]) * (vertices[:, 0] + nxt[:, 0])),
        np.sum((vertices[:, 0] - nxt[:, 0]) * (vertices[:, 1] + nxt[:, 1])),
    ])  # fmt: skip
    normal = unit(normal)
    return normal if normal[2] >= 0 else -normal


@dataclass
class _Facet:
    """A nose facet in the image."""

    label: int
    polygon: np.ndarray  # image coordinates
    depth: float  # towards the camera
    facing: float
    diffuse: float
    specular: float


@dataclass
class _Projected:
    """The face's parts in image coordinates."""

    outline: np.ndarray  # the face's skin
    outline_heights: np.ndarray  # face-frame y of the surface point under each outline vertex
    chin_tip: np.ndarray  # (2,) the bottom of the face's midline
    hair_volume: np.ndarray  # outline of the head enlarged by the hair, clockwise
    hair_loop: np.ndarray
    hair_loop_facing: np.ndarray
    skin_uv: np.ndarray
    skin_normals: np.ndarray  # camera frame
    contours: dict[str, np.ndarray]
    contour_facing: dict[str, np.ndarray]
    nose: dict[str, np.ndarray]
    facets: list[_Facet]

    def shift(self, offset: np.ndarray) -> None:
        """Move everything by ``offset`` pixels."""
        self.outline, self.hair_volume, self.hair_loop = (
            self.outline + offset, self.hair_volume + offset, self.hair_loop + offset
        )  # fmt: skip
        self.chin_tip = self.chin_tip + offset
        self.skin_uv = self.skin_uv + offset
        self.contours = {name: uv + offset for name, uv in self.contours.items()}
        self.nose = {name: uv + offset for name, uv in self.nose.items()}
        for facet in self.facets:
            facet.polygon = facet.polygon + offset


def _project(geo: FaceGeometry, face: FaceParams, camera: _Camera, appearance: Appearance) -> _Projected:
    """Project the face: its outline, hair, part contours (and whether they face the camera) and nose facets."""
    head = geo.head
    skin = head.body_samples(face.ear_angle)
    whole = head.body_samples(n_around=32, n_levels=24)
    hair = whole * np.where(whole[:, 1:2] < 0, [1.08, 1.06, 1.08], [1.06, 1.0, 1.06])
    names = list(geo.contours)
    flat = np.concatenate([geo.contours[name].points for name in names])
    lift = np.concatenate([np.broadcast_to(geo.contours[n].lift, len(geo.contours[n].points)) for n in names])
    surface = np.stack([flat[:, 0], flat[:, 1], head.front_z(flat[:, 0], flat[:, 1])], axis=1)
    uv = camera.project(surface + lift[:, None] * [0.0, 0.0, 1.0])
    facing = camera.facing(head.normals(surface))
    ends = np.cumsum([0] + [len(geo.contours[name].points) for name in names])
    contours = {name: uv[a:b] for name, a, b in zip(names, ends[:-1], ends[1:], strict=True)}
    contour_facing = {name: facing[a:b] for name, a, b in zip(names, ends[:-1], ends[1:], strict=True)}
    nose = dict(zip(geo.nose, camera.project(np.stack(list(geo.nose.values()))), strict=True))
    light = appearance.light
    half = unit(light.direction + np.array([0.0, 0.0, 1.0]))
    facets = []
    for side, vertex_names in geo.nose_facets:
        vertices = np.stack([geo.nose[name] for name in vertex_names])
        normal = camera.rotation @ _facet_normal(vertices)
        facets.append(_Facet(
            label=Label.NOSE_RIGHT if side == "right" else Label.NOSE_LEFT,
            polygon=np.stack([nose[name] for name in vertex_names]),
            depth=float(np.mean(vertices @ camera.rotation[2])),
            facing=float(normal[2]),
            diffuse=light.ambient + light.diffuse * max(float(normal @ light.direction), 0.0),
            specular=light.specular * max(float(normal @ half), 0.0) ** light.shininess,
        ))  # fmt: skip
    skin_uv = camera.project(skin)
    # The outline also passes the chin tip, where the sections shrink to a point (W = 0: it has no normal, so it is
    # no shading sample).
    with_tip = np.concatenate([skin, [[0.0, head.chin, 0.0]]])
    outline_uv = camera.project(with_tip)
    outline = convex_hull(outline_uv)
    return _Projected(
        outline=outline_uv[outline],
        outline_heights=with_tip[outline, 1],
        chin_tip=outline_uv[-1],
        hair_volume=_hull(camera.project(hair)),
        hair_loop=camera.project(geo.hair_loop),
        hair_loop_facing=camera.facing(head.normals(geo.hair_loop)),
        skin_uv=skin_uv,
        skin_normals=head.normals(skin) @ camera.rotation.T,
        contours=contours,
        contour_facing=contour_facing,
        nose=nose,
        facets=facets,
    )


def _landmarks(geo: FaceGeometry, face: FaceParams, proj: _Projected) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean landmarks, tangents and the 'exposed' flags (see :class:`Scene`)."""
    landmarks = np.zeros((NUM_LANDMARKS, 2))
    tangents = np.zeros((NUM_LANDMARKS, 2))
    exposed = np.ones(NUM_LANDMARKS, bool)
    landmarks[:17], tangents[:17] = _jaw(proj.outline, proj.outline_heights, proj.chin_tip, face.jaw_top)
    ridge = np.stack([proj.nose[name] for name in ("N", "R1", "R2", "T", "S")])
    base = np.stack([proj.nose[name] for name in ("A-", "P-", "S", "P+", "A+")])
    curves = {"nose_ridge": (ridge, False), "nose_base": (base, False)}
    curves.update({name: (proj.contours[name], contour.closed) for name, contour in geo.contours.items()})
    outlines = [(facet.polygon.astype(np.float32), facet.facing > 0) for facet in proj.facets]
    for index, (source, vertex, mode) in geo.landmarks.items():
        curve, closed = curves[source]
        point = curve[vertex]
        landmarks[index] = point
        tangents[index] = curve_tangent(curve, vertex, mode, closed)
        if source.startswith("nose"):
            # Visible if it is on the edge of a facet facing the camera and inside no such facet.
            where = (float(point[0]), float(point[1]))
            depth = [(cv2.pointPolygonTest(polygon, where, True), front) for polygon, front in outlines]
            on_front = any(front and abs(d) < 1e-3 for d, front in depth)
            exposed[index] = on_front and not any(front and d > 0.5 for d, front in depth)
        else:
            exposed[index] = proj.contour_facing[source][vertex] >= 0
    return landmarks, tangents, exposed


def _placement(landmarks: np.ndarray, size: int, jitter: np.ndarray) -> np.ndarray:
    """Offset putting the landmarks' box centre at the image centre plus ``jitter``, inside a 3 % margin."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    offset = size / 2 + jitter - (low + high) / 2
    margin = 0.03 * size
    least, most = margin - low, size - 1 - margin - high
    return np.where(least <= most, np.clip(offset, least, most), (least + most) / 2)


def build_scene(
    rng: np.random.Generator,
    face: FaceParams,
    appearance: Appearance,
    pose: tuple[float, float, float],
    size: int,
    scale: float,
    jitter: np.ndarray,
    occluded: bool,
) -> Scene:
    """Lay out one image.

    Args:
        rng: the image's generator (textures, hair, occluders).
        face: identity and expression.
        appearance: colours and light.
        pose: (yaw, pitch, roll) in degrees.
        size: image side in pixels.
        scale: pixels per face unit (half the frontal face width).
        jitter: (2,) shift of the face from the image centre, pixels.
        occluded: whether to add occluders.
    """
    geo = build_geometry(face)
    camera = _Camera(pose, scale)
    proj = _project(geo, face, camera, appearance)
    landmarks, tangents, exposed = _landmarks(geo, face, proj)
    offset = _placement(landmarks, size, jitter)
    landmarks = landmarks + offset
    proj.shift(offset)
    camera.offset = offset

    mottle = 1.0 + 0.03 * smooth_noise(rng, size, size, (12, 12))
    shade, specular = _shading(proj.skin_uv, proj.skin_normals, appearance, size, mottle)
    layers = _body_layers(rng, face, appearance, proj, camera, size, shade)
    layers += _face_layers(geo, face, appearance, proj, camera, shade, specular)
    layers += _hair_cap(rng, appearance, proj, camera, size)
    kinds: list[str] = []
    if occluded:
        kinds, occluder_layers = sample_occluders(rng, landmarks, scale, size, appearance.palette, appearance.skin)
        layers += occluder_layers
    return Scene(size, background(rng, size, appearance.palette), layers, landmarks, tangents, exposed, kinds, scale)


def _body_layers(
    rng: np.random.Generator,
    face: FaceParams,
    appearance: Appearance,
    proj: _Projected,
    camera: _Camera,
    size: int,
    shade: np.ndarray,
) -> list[Layer]:
    """Clothes, long hair, the neck and the skin of the face."""
    s = camera.scale
    light = appearance.light
    skin = appearance.skin * light.colour * 255
    attach = camera.project(np.array([[0.0, 0.85 * face.head.chin, -0.25]]))[0]
    neck_half = s * rng.uniform(0.55, 0.7)
    shoulders = attach[1] + s * rng.uniform(0.9, 1.3)
    x, far = attach[0], size + 20.0
    clothes = np.array([
        [x - 1.3 * neck_half, shoulders], [x - 2.6 * s, shoulders + 0.5 * s], [-20.0, shoulders + 0.6 * s],
        [-20.0, far], [far, far], [far, shoulders + 0.6 * s], [x + 2.6 * s, shoulders + 0.5 * s],
        [x + 1.3 * neck_half, shoulders],
    ])  # fmt: skip
    first, second = appearance.palette[rng.choice(len(appearance.palette), 2, replace=False)]
    paint = textured([clothes], size, lambda h, w: fabric(rng, h, w, first, second))
    layers = [Layer([clothes], paint, Label.CLOTHES, name="clothes")]
    hair_colour = appearance.hair * light.colour
    if appearance.hair_style == "long":
        length = s * (face.head.chin + rng.uniform(0.2, 1.2))
        width = s * rng.uniform(1.0, 1.5)
        ends = camera.offset + np.array([[-width, length], [width, length]])
        hair = _hull(np.concatenate([proj.hair_volume, ends]))
        paint = textured([hair], size, lambda h, w: 0.8 * hair_texture(rng, h, w, hair_colour))
        layers.append(Layer([hair], paint, Label.HAIR, name="long hair"))
    neck = np.array([[x - neck_half, attach[1] - 0.3 * s], [x + neck_half, attach[1] - 0.3 * s],
                     [x + 1.1 * neck_half, far], [x - 1.1 * neck_half, far]])  # fmt: skip
    rows = np.clip((np.arange(size, dtype=np.float32) - attach[1]) / (1.2 * s), 0.0, 1.0)[:, None]
    neck_shade = np.broadcast_to(0.45 * light.ambient + 0.25 * rows, (size, size))
    layers.append(Layer([neck], Paint(colour=skin, shade=neck_shade), Label.NECK, name="neck"))
    layers.append(Layer([proj.outline], Paint(colour=skin, shade=shade), Label.SKIN, name="skin"))
    return layers


def _decal(proj: _Projected, name: str) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """A contour polygon clipped to where the face looks at the camera (and then to the face outline)."""
    polygon = proj.contours[name]
    facing = proj.contour_facing[name]
    if (facing >= 0).all():
        return [polygon], None
    return [clip_polygon(polygon, facing)], [proj.outline]


def _face_layers(
    geo: FaceGeometry,
    face: FaceParams,
    appearance: Appearance,
    proj: _Projected,
    camera: _Camera,
    shade: np.ndarray,
    specular: np.ndarray,
) -> list[Layer]:
    """Shading details, brows, eyes, lips and the nose, in painting order."""
    s = camera.scale
    light = appearance.light.colour
    layers = []

    def add(
        names: list[str], paint: Paint, label: int | None = None, blur: float = 0.0, clip: list | None = None
    ) -> None:
        """One layer of the decals ``names`` (clipped to the face outline if one of them had to be cut)."""
        decals = [_decal(proj, name) for name in names]
        polygons = [polygon for polygon_list, _ in decals for polygon in polygon_list]
        cut = next((c for _, c in decals if c is not None), None)
        layers.append(Layer(polygons, paint, label, clip if clip is not None else cut, blur, names[0]))

    both = ("right", "left")
    add([f"{side}_eye_socket" for side in both], Paint(multiply=np.array([0.86, 0.84, 0.84])), blur=0.06 * s)
    add(["under_nose"], Paint(multiply=np.array([0.32, 0.3, 0.3])), blur=0.01 * s)
    outline = np.stack([proj.nose[n] for n in ("N", "B-", "C-", "A-", "P-", "S", "P+", "A+", "C+", "B+")])
    layers.append(Layer([outline], Paint(multiply=np.array([0.8, 0.78, 0.78])), blur=0.015 * s, name="nose ao"))
    add([f"{side}_eye_rim" for side in both], Paint(multiply=np.array([0.72, 0.62, 0.62])), blur=0.012 * s)
    add([f"{side}_eye_lid_shadow" for side in both], Paint(multiply=np.array([0.6, 0.55, 0.55])), blur=0.012 * s)
    add([f"{side}_brow" for side in both], Paint(colour=appearance.brow * light * 255, shade=shade), Label.BROW)
    add([f"{side}_eye_lash" for side in both], Paint(colour=appearance.lash * light * 255, shade=shade), Label.LID)
    sclera_shade = 0.5 + 0.45 * shade
    for k, side in enumerate(both):
        if face.expression.eye_open[k] == 0:
            continue
        opening, cut = _decal(proj, f"{side}_eye")
        sclera = Paint(colour=appearance.sclera * light * 255, shade=sclera_shade)
        layers.append(Layer(opening, sclera, Label.SCLERA, cut, name=f"{side} sclera"))
        for part, colour in (("iris", appearance.iris * light * 255), ("pupil", np.full(3, 12.0))):
            polygon = proj.contours[f"{side}_eye_{part}"]
            layers.append(
                Layer([polygon], Paint(colour=colour, shade=shade), Label.IRIS, opening, name=f"{side} {part}")
            )
        glint = Paint(colour=np.full(3, 250.0))
        layers.append(Layer([proj.contours[f"{side}_eye_glint"]], glint, Label.IRIS, opening, name=f"{side} glint"))
    lips = appearance.lips * light * 255
    add(["upper_lip"], Paint(colour=0.65 * lips, shade=shade), Label.UPPER_LIP)  # it faces down, in shadow
    highlight = Paint(colour=lips, shade=shade, highlight=specular, highlight_colour=light * 255)
    add(["lower_lip"], highlight, Label.LOWER_LIP)
    if "mouth" in geo.contours:
        add(["mouth"], Paint(colour=np.array([0.07, 0.02, 0.025]) * 255, shade=shade), Label.MOUTH)
        mouth, _ = _decal(proj, "mouth")
        add(["teeth"], Paint(colour=np.array([0.9, 0.88, 0.8]) * 255, shade=shade), Label.TEETH, clip=mouth)
    # The nose: front-facing facets, far ones first, flat-shaded so that the ridge shows.
    skin = appearance.skin * light * 255
    lobes = []
    for facet in sorted((f for f in proj.facets if f.facing > 0), key=lambda f: f.depth):
        colour = skin * facet.diffuse + facet.specular * light * 255
        layers.append(Layer([facet.polygon], Paint(colour=colour), facet.label, name="nose"))
        if len(facet.polygon) == 5:
            lobes.append(facet.polygon)
    # Nostrils show as much as the underside of the nose faces the camera.
    underside = float(camera.facing(unit(np.array([[0.0, 0.8, 0.6]])))[0])
    if lobes and underside > 0:
        darkness = 1.0 - 0.65 * min(2.0 * underside, 1.0)
        add(["nostril-1", "nostril+1"], Paint(multiply=np.full(3, darkness)), blur=0.5, clip=lobes)
    return layers


def _hair_cap(
    rng: np.random.Generator, appearance: Appearance, proj: _Projected, camera: _Camera, size: int
) -> list[Layer]:
    """The hair over the head: the visible part of the hair loop (see
    :func:`ffld.data.synthetic.facemodel._add_hair_loop`), closed over the top of the head along the outline of
    the hair volume (the head enlarged by 6-8 %)."""
    run = _visible_run(proj.hair_loop, proj.hair_loop_facing)
    if len(run) < 2:
        return []
    outline = proj.hair_volume
    n = len(outline)
    c, s = np.cos(np.deg2rad(camera.roll)), np.sin(np.deg2rad(camera.roll))
    top = int(np.argmax(outline @ np.array([s, -c])))
    first = int(np.argmin(np.linalg.norm(outline - run[0], axis=1)))
    last = int(np.argmin(np.linalg.norm(outline - run[-1], axis=1)))
    arc = [(last + k) % n for k in range((first - last) % n + 1)]
    if top not in arc:
        arc = [(last - k) % n for k in range((last - first) % n + 1)]
    polygon = np.concatenate([run, outline[arc]])
    colour = appearance.hair * appearance.light.colour
    paint = textured([outline], size, lambda h, w: hair_texture(rng, h, w, colour))
    return [Layer([polygon], paint, Label.HAIR, name="hair")]
