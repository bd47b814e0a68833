"""A small parametric 3-D face: a convex head body carrying the facial parts, with identity and expression.

Units: 1 = half the largest width of the face (about 70 mm on an adult). The face frame has x towards the
subject's left, y down, z towards the camera; y = 0 is at eye level. Proportions follow adult anthropometry
(Farkas, 1994): eyes half-way down the head, the nose base about 0.7 below them, the mouth about 0.3 lower,
the chin about 1.6 below eye level; eye fissure about 30 mm wide, nose 35 mm, mouth 50 mm.

The head is a body whose horizontal sections are superellipses ``|x/W(y)|^p + |z/D(y)|^p = 1`` with an
egg-shaped frontal profile W(y) (widest at the cheekbones, tapering to the chin with an identity-dependent jaw
squareness) and depth D(y) = k W(y)^g. The eyes, brows and lips are contours drawn on its front surface, the
nose is a small polyhedron standing out of it, and a loop around it bounds the hair. The skin of the face covers
the body up to the "ear line", the section angle ``ear_angle`` (a little behind the widest point); behind it and
above the hairline the head is hair, so under strong yaw the near side of the face ends at the ear, as in
photographs. Every landmark other than the jaw is a vertex of one of the contours; the jaw landmarks depend on
the pose and are placed on the outline of the face (see :mod:`ffld.data.synthetic.scene`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_CRANIUM_POWER = 2.2


@dataclass(frozen=True)
class HeadShape:
    """The head body.

    Attributes:
        top: height of the skull top above eye level.
        chin: depth of the chin below eye level (grows when the jaw drops).
        widest: level of the largest width (the cheekbones), below eye level.
        jaw_power: superellipse power of the profile below the cheekbones (larger: squarer jaw).
        jaw_taper: extra narrowing of the jaw towards the chin.
        depth: k in D(y) = k W(y)^g.
        fullness: g in D(y) = k W(y)^g (smaller: the lower face keeps its depth, the lips stand forward).
        power: p, the power of the horizontal sections (larger: flatter front, sharper turn to the sides).
    """

    top: float
    chin: float
    widest: float
    jaw_power: float
    jaw_taper: float
    depth: float
    fullness: float
    power: float

    def width(self, y: np.ndarray) -> np.ndarray:
        """Half-width W(y) of the horizontal section at height y."""
        y = np.asarray(y, dtype=np.float64)
        below = np.clip((y - self.widest) / (self.chin - self.widest), 0.0, 1.0)
        above = np.clip((self.widest - y) / (self.top + self.widest), 0.0, 1.0)
        jaw = (1.0 - below**self.jaw_power) ** (1.0 / self.jaw_power) * (1.0 - self.jaw_taper * below**2)
        cranium = (1.0 - above**_CRANIUM_POWER) ** (1.0 / _CRANIUM_POWER)
        return np.maximum(np.where(y >= self.widest, jaw, cranium), 1e-6)

    def half_depth(self, y: np.ndarray) -> np.ndarray:
        """Half-depth D(y) of the horizontal section at height y."""
        return self.depth * self.width(y) ** self.fullness

    def front_z(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Depth of the front surface above (x, y) (points beyond the side are moved onto it)."""
        ratio = np.minimum(np.abs(x) / self.width(y), 1.0)
        return self.half_depth(y) * (1.0 - ratio**self.power) ** (1.0 / self.power)

    def normals(self, points: np.ndarray) -> np.ndarray:
        """Outward unit normals at (N, 3) surface points: the gradient of |x/W|^p + |z/D|^p."""
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        h = 1e-4
        w, above, below = self.width(y), self.width(y - h), self.width(y + h)
        d = self.depth * w**self.fullness
        dw = (below - above) / (2 * h)
        dd = self.depth * self.fullness * w ** (self.fullness - 1) * dw
        p = self.power
        ax, az = np.abs(x) / w, np.abs(z) / d
        gx = np.sign(x) * ax ** (p - 1) / w
        gz = np.sign(z) * az ** (p - 1) / d
        gy = -(ax**p) * dw / w - az**p * dd / d
        g = np.stack([gx, gy, gz], axis=1)
        return g / np.maximum(np.sqrt((g * g).sum(axis=1, keepdims=True)), 1e-12)

    def surface(self, theta: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(N, 3) body points at section angles ``theta`` (0 = straight ahead, +-pi = the back; > 0 towards +x)
        and heights ``y``."""
        s, c = np.sin(theta), np.cos(theta)
        e = 2.0 / self.power
        x = self.width(y) * np.sign(s) * np.abs(s) ** e
        z = self.half_depth(y) * np.sign(c) * np.abs(c) ** e
        return np.stack([np.ravel(x), np.ravel(np.broadcast_to(y, np.shape(x))), np.ravel(z)], axis=1)

    def body_samples(self, around: float = np.pi, n_around: int = 48, n_levels: int = 32) -> np.ndarray:
        """(N, 3) points on the body, denser towards the skull top and the chin.

        Args:
            around: the samples cover the section angles [-around, around] (0 = straight ahead, pi = the back);
                pi covers the whole body.
            n_around: samples per section, besides the one on the midline (angle 0) that every section has.
            n_levels: number of sections.
        """
        t = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n_levels + 2)[1:-1])
        y = -self.top + t * (self.top + self.chin)
        theta = np.union1d(np.linspace(-around, around, n_around, endpoint=around < np.pi), [0.0])  # + the midline
        yy, tt = np.meshgrid(y, theta, indexing="ij")
        return self.surface(tt, yy)


@dataclass(frozen=True)
class Expression:
    """Expression: mouth opening (0 = closed), smile (0-1), brow raise (0-1), eye openness per eye (0 = closed;
    right eye first)."""

    mouth_open: float
    smile: float
    brow_raise: float
    eye_open: tuple[float, float]


@dataclass(frozen=True)
class FaceParams:
    """Identity (shape) and expression of one face, in face units; :func:`sample_face` gives the ranges.

    Eyes: centre at (+-``eye_x``, ``eye_y``), ``eye_half_width``, heights of the upper and lower lids above and
    below the corner line (``eye_upper``, ``eye_lower``), the outer corners raised by ``eye_tilt`` (radians), the
    highest and lowest lid points at ``eye_upper_peak``/``eye_lower_peak`` of the way from the outer corner;
    iris and pupil sizes, ``gaze`` offset, ``lash`` line thickness. Brows: inner and outer ends, height of the
    upper edge at the inner end, arch height and position, thickness at the head and the tail. Nose: heights of
    the nasion, tip and base (subnasale), half-width at the alar bases, tip protrusion. Mouth: height where the
    lips meet, half-width, lip thicknesses, cupid's bow depth, inner corners as a fraction of the width. Hair:
    hairline height in the middle and at the temples, ear line angle (radians), height of the hair at the back.
    ``jaw_top``: height where the jaw contour (landmarks 0 and 16) ends.
    """

    head: HeadShape
    expression: Expression
    eye_x: float
    eye_y: float
    eye_half_width: float
    eye_upper: float
    eye_lower: float
    eye_tilt: float
    eye_upper_peak: float
    eye_lower_peak: float
    iris_radius: float
    pupil_ratio: float
    gaze: tuple[float, float]
    lash: float
    brow_inner_x: float
    brow_outer_x: float
    brow_y: float
    brow_arch: float
    brow_peak: float
    brow_thickness: float
    brow_tail: float
    nasion_y: float
    nose_tip_y: float
    nose_base_y: float
    alar_width: float
    nose_depth: float
    mouth_y: float
    mouth_half_width: float
    upper_lip: float
    lower_lip: float
    cupid_bow: float
    inner_ratio: float
    hairline_y: float
    temple_y: float
    ear_angle: float
    ear_bottom: float
    jaw_top: float


def sample_face(rng: np.random.Generator) -> FaceParams:
    """Draw a random identity and expression."""
    u = rng.uniform
    # Expression: the mouth is either closed or clearly open, the eyes either closed (rarely) or clearly open, so
    # that every landmark has one unambiguous boundary.
    mouth_open = 0.0 if u() < 0.5 else u(0.04, 0.3)
    eyes_closed = u() < 0.08
    wink = None if eyes_closed or u() >= 0.04 else int(u() < 0.5)  # the eye that winks: 0 right, 1 left
    openness = u(0.5, 1.0)
    eye_open = tuple(0.0 if eyes_closed or wink == eye else openness for eye in (0, 1))
    expression = Expression(mouth_open, u(0.0, 1.0) ** 2, u(0.0, 1.0) ** 2, eye_open)
    # Identity.
    eye_x, eye_half_width = u(0.4, 0.48), u(0.18, 0.23)
    iris_radius, pupil_ratio = u(0.08, 0.095), u(0.28, 0.38)
    nose_tip_y = u(0.48, 0.58)
    nose_base_y = nose_tip_y + u(0.1, 0.15)
    mouth_y = nose_base_y + u(0.25, 0.34)
    lower_lip = u(0.08, 0.13)
    head = HeadShape(
        top=u(1.55, 1.75),
        chin=max(u(1.5, 1.72), mouth_y + lower_lip + 0.42) + 0.8 * mouth_open,
        widest=u(0.05, 0.22),
        jaw_power=u(1.9, 3.2),
        jaw_taper=u(0.08, 0.3),
        depth=u(0.95, 1.1),
        fullness=u(0.35, 0.6),
        power=u(2.3, 2.7),
    )
    brow_y = u(-0.36, -0.28)
    brow_arch = u(0.03, 0.1)
    highest_brow = brow_y - brow_arch - 0.14  # with the strongest brow raise
    return FaceParams(
        head=head,
        expression=expression,
        eye_x=eye_x,
        eye_y=u(-0.03, 0.03),
        eye_half_width=eye_half_width,
        eye_upper=u(0.085, 0.12),
        eye_lower=u(0.04, 0.06),
        eye_tilt=np.deg2rad(u(-2.0, 8.0)),
        eye_upper_peak=u(0.4, 0.52),
        eye_lower_peak=u(0.42, 0.56),
        iris_radius=iris_radius,
        pupil_ratio=pupil_ratio,
        # The pupil stays clear of the upper-lid landmarks (a third of the eye from each corner): both are dark.
        gaze=(u(-1.0, 1.0) * max(eye_half_width / 3 - 0.015 - pupil_ratio * iris_radius, 0.0), u(-0.01, 0.01)),
        lash=u(0.012, 0.02),
        brow_inner_x=u(0.1, 0.17),
        brow_outer_x=eye_x + eye_half_width + u(-0.02, 0.07),
        brow_y=brow_y,
        brow_arch=brow_arch,
        brow_peak=u(0.55, 0.7),
        brow_thickness=u(0.05, 0.09),
        brow_tail=u(0.015, 0.03),
        nasion_y=u(-0.1, -0.02),
        nose_tip_y=nose_tip_y,
        nose_base_y=nose_base_y,
        alar_width=u(0.17, 0.23),
        nose_depth=u(0.24, 0.36),
        mouth_y=mouth_y,
        mouth_half_width=u(0.3, 0.38),
        upper_lip=u(0.06, 0.1),
        lower_lip=lower_lip,
        cupid_bow=u(0.2, 0.6),
        inner_ratio=u(0.82, 0.92),
        hairline_y=min(u(-1.05, -0.7), highest_brow - 0.2),
        temple_y=u(-0.62, -0.48),
        ear_angle=np.deg2rad(u(96.0, 106.0)),
        ear_bottom=u(0.3, 0.55),
        jaw_top=u(0.0, 0.15),
    )


@dataclass
class Contour:
    """A contour in the face frame: (N, 2) (x, y) vertices on the front surface, lifted by ``lift`` along z."""

    points: np.ndarray
    closed: bool
    lift: np.ndarray | float = 0.0


@dataclass
class FaceGeometry:
    """The parts of one face in the face frame.

    Attributes:
        head: the head body.
        contours: named contours on the front surface (polygons of the parts and their shading).
        nose: named 3-D vertices of the nose polyhedron.
        nose_facets: (name of the label half, vertex names) of each nose facet.
        hair_loop: (N, 3) where the hair meets the skin, once around the head from the back through the right
            side, the forehead and the left side (see :func:`_add_hair_loop`).
        landmarks: for each of the 68 landmarks but the jaw, ``(source, index, tangent mode)`` where source is a
            contour name (the landmark is that vertex) or "nose_ridge"/"nose_base" (contours of 3-D nose
            vertices).
    """

    head: HeadShape
    contours: dict[str, Contour] = field(default_factory=dict)
    nose: dict[str, np.ndarray] = field(default_factory=dict)
    nose_facets: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    landmarks: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    hair_loop: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


def _peaked(s: np.ndarray, peak: float, power: float = 0.8) -> np.ndarray:
    """A bump on [0, 1] that is 0 at both ends and 1 at s = peak."""
    a = np.log(0.5) / np.log(peak)
    return np.sin(np.pi * np.clip(s, 0.0, 1.0) ** a) ** power


def _grid(n: int, *required: float, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """``n`` evenly spaced parameters on [low, high] plus the required ones (landmark positions), sorted."""
    return np.unique(np.round(np.concatenate([np.linspace(low, high, n), required]), 12))


def _at(grid: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(grid - value)))


def _add_eye(geo: FaceGeometry, f: FaceParams, side: int, openness: float, first: int) -> None:
    """Eye ``side`` (-1: right, +1: left) with landmarks ``first``..``first + 5`` in the 300W order."""
    centre = np.array([side * f.eye_x, f.eye_y])
    half = f.eye_half_width * np.array([side * np.cos(f.eye_tilt), -np.sin(f.eye_tilt)])
    outer, inner = centre + half, centre - half
    up = np.array([half[1], -half[0]]) * side
    up /= np.linalg.norm(up)  # perpendicular to the corner line, pointing to -y
    s = _grid(25, 1 / 3, 2 / 3)  # 0 at the outer corner, 1 at the inner corner
    chord = outer + s[:, None] * (inner - outer)
    upper_open = chord + up * (f.eye_upper * _peaked(s, f.eye_upper_peak))[:, None]
    lower_open = chord - up * (f.eye_lower * _peaked(s, f.eye_lower_peak))[:, None]
    closed = chord - up * (0.3 * f.eye_lower * _peaked(s, f.eye_lower_peak))[:, None]
    upper = closed + openness * (upper_open - closed)
    lower = closed + openness * (lower_open - closed)
    name = "right_eye" if side < 0 else "left_eye"
    # Opening: upper lid from the outer to the inner corner, then the lower lid back.
    geo.contours[name] = Contour(np.concatenate([upper, lower[-2:0:-1]]), closed=True)
    # The lash line above the upper lid, and a soft shadow above it and below the lower lid (drawn under the
    # opening), so that the lid edge is the strongest edge there rather than the far side of the lash line.
    lash = f.lash * (0.35 + 0.65 * np.sin(np.pi * s) ** 0.5)
    geo.contours[name + "_lash"] = Contour(np.concatenate([upper, (upper + up * lash[:, None])[::-1]]), True)
    lid = np.concatenate([upper - up * 0.01, (upper + up * (3 * lash[:, None] + 0.01))[::-1]])
    geo.contours[name + "_lid_shadow"] = Contour(lid, True)
    rim = 0.035 * (0.3 + 0.7 * np.sin(np.pi * s) ** 0.5)
    geo.contours[name + "_rim"] = Contour(np.concatenate([lower + up * 0.01, (lower - up * rim[:, None])[::-1]]), True)
    angles = np.linspace(0.0, 2 * np.pi, 32, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    iris_centre = 0.5 * (outer + inner) + np.asarray(f.gaze)  # both eyes look the same way
    geo.contours[name + "_iris"] = Contour(iris_centre + f.iris_radius * circle, True)
    geo.contours[name + "_pupil"] = Contour(iris_centre + f.pupil_ratio * f.iris_radius * circle, True)
    pupil = f.pupil_ratio * f.iris_radius
    geo.contours[name + "_glint"] = Contour(iris_centre - 0.45 * pupil + 0.4 * pupil * circle, True)
    socket = centre + up * 0.3 * f.eye_upper + circle * np.array([1.5 * f.eye_half_width, 2.6 * f.eye_upper])
    geo.contours[name + "_socket"] = Contour(socket, True)
    n_upper = len(s)
    one, two = _at(s, 1 / 3), _at(s, 2 / 3)
    lower_index = {one: 2 * n_upper - 2 - one, two: 2 * n_upper - 2 - two}  # lower[i] sits at this vertex
    if side < 0:  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid (left to right on top)
        order = [(0, "corner"), (one, "smooth"), (two, "smooth"), (n_upper - 1, "corner")]
        order += [(lower_index[two], "smooth"), (lower_index[one], "smooth")]
    else:  # 42 inner corner, 43-44 upper lid, 45 outer corner, 46-47 lower lid
        order = [(n_upper - 1, "corner"), (two, "smooth"), (one, "smooth"), (0, "corner")]
        order += [(lower_index[one], "smooth"), (lower_index[two], "smooth")]
    for k, (vertex, mode) in enumerate(order):
        geo.landmarks[first + k] = (name, vertex, mode)


def _add_brow(geo: FaceGeometry, f: FaceParams, side: int, first: int) -> None:
    """Brow ``side`` with landmarks on its upper edge, ``first``..``first + 4`` from the image's left."""
    raise_ = f.expression.brow_raise
    s = _grid(21, 0.25, 0.5, 0.75)  # 0 at the inner end (head), 1 at the outer end (tail)
    x = side * (f.brow_inner_x + s * (f.brow_outer_x - f.brow_inner_x))
    top = f.brow_y - 0.1 * raise_ - (f.brow_arch + 0.04 * raise_) * _peaked(s, f.brow_peak, 0.9) + 0.06 * s**2
    thickness = f.brow_thickness * (1 - s) + f.brow_tail * s
    upper = np.stack([x, top], axis=1)
    lower = np.stack([x, top + thickness], axis=1)
    name = "right_brow" if side < 0 else "left_brow"
    geo.contours[name] = Contour(np.concatenate([upper, lower[::-1]]), closed=True)
    ends = [(_at(s, v), "smooth") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    ends[0], ends[-1] = (0, "end"), (len(s) - 1, "end")
    if side < 0:  # 17 is the tail (image-left end), 21 the head
        ends = ends[::-1]
    for k, (vertex, mode) in enumerate(ends):
        geo.landmarks[first + k] = (name + "_top", vertex, mode)
    geo.contours[name + "_top"] = Contour(upper, closed=False)


def _add_nose(geo: FaceGeometry, f: FaceParams) -> None:
    """The nose polyhedron: two halves (each a side facet and a lobe facet) meeting at the ridge."""
    aw, base, tip = f.alar_width, f.nose_base_y, f.nose_tip_y
    points = {  # (x, y, height above the face surface)
        "N": (0.0, f.nasion_y, 0.03),
        "T": (0.0, tip, f.nose_depth),
        "S": (0.0, base, 0.06),
        "P-": (-0.5 * aw, base - 0.012, 0.07),
        "P+": (0.5 * aw, base - 0.012, 0.07),
        "A-": (-aw, base - 0.05, 0.015),
        "A+": (aw, base - 0.05, 0.015),
        "C-": (-(aw + 0.015), tip - 0.1, 0.05),
        "C+": (aw + 0.015, tip - 0.1, 0.05),
        "B-": (-0.07, f.nasion_y + 0.04, 0.02),
        "B+": (0.07, f.nasion_y + 0.04, 0.02),
    }
    xyh = np.array(list(points.values()))
    z = geo.head.front_z(xyh[:, 0], xyh[:, 1]) + xyh[:, 2]
    for name, x, y, depth in zip(points, xyh[:, 0], xyh[:, 1], z, strict=True):
        geo.nose[name] = np.array([x, y, depth])
    n, t = geo.nose["N"], geo.nose["T"]
    geo.nose["R1"], geo.nose["R2"] = n + (t - n) / 3, n + 2 * (t - n) / 3
    geo.nose_facets = [
        ("right", ("N", "B-", "C-", "T")),
        ("right", ("T", "C-", "A-", "P-", "S")),
        ("left", ("N", "T", "C+", "B+")),
        ("left", ("T", "S", "P+", "A+", "C+")),
    ]
    for k, mode in enumerate(["end", "smooth", "smooth", "smooth"]):
        geo.landmarks[27 + k] = ("nose_ridge", k, mode)
    for k, mode in enumerate(["end", "smooth", "smooth", "smooth", "end"]):
        geo.landmarks[31 + k] = ("nose_base", k, mode)
    # Shading: nostrils, the shadow under the nose, the ambient occlusion around it.
    angles = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)
    ellipse = np.stack([0.04 * np.cos(angles), 0.018 * np.sin(angles)], axis=1)
    for side in (-1, 1):
        geo.contours[f"nostril{side:+d}"] = Contour(np.array([side * 0.5 * aw, base - 0.075]) + ellipse, True, 0.06)
    # The shadow under the nose: from just inside its lower edge (at the same height above the face, so that it
    # lines up with the edge under any pose) down onto the upper lip.
    bottom = np.array([points[name][:2] for name in ("A-", "P-", "S", "P+", "A+")])
    heights = np.array([points[name][2] for name in ("A-", "P-", "S", "P+", "A+")])
    shadow = np.concatenate([bottom - np.array([0.0, 0.03]), (bottom + np.array([0.0, 0.07]))[::-1]])
    geo.contours["under_nose"] = Contour(shadow, True, np.concatenate([heights, np.zeros(5)]))


def _add_mouth(geo: FaceGeometry, f: FaceParams) -> None:
    """Lips, mouth interior and teeth; landmarks 48-67."""
    e = f.expression
    half = f.mouth_half_width + 0.04 * e.smile
    corner_rise = -0.07 * e.smile
    r = f.inner_ratio
    marks = (0.28, 0.62, -0.28, -0.62, 0.5 * r, -0.5 * r, r, -r)
    s = _grid(41, *marks, low=-1.0, high=1.0)

    def bump(v: np.ndarray, width: float = 0.12) -> np.ndarray:
        return np.exp(-((v / width) ** 2))

    base = f.mouth_y + corner_rise * s**2  # where the lips meet
    inner = np.where(np.abs(s) <= r, (1.0 - np.minimum((s / r) ** 2, 1.0)) ** 0.7, 0.0)
    bow = 1.0 + 0.5 * f.cupid_bow * bump(np.abs(s) - 0.28) - 0.6 * f.cupid_bow * bump(s)
    outer_upper = base - 0.3 * e.mouth_open * inner - f.upper_lip * np.sqrt(1 - s**2) * bow * (1 - 0.3 * e.smile)
    outer_lower = base + 0.7 * e.mouth_open * inner + f.lower_lip * (1 - s**2) ** 0.55
    inside = np.abs(s) <= r + 1e-9
    inner_upper = (base - 0.3 * e.mouth_open * inner)[inside]
    inner_lower = (base + 0.7 * e.mouth_open * inner)[inside]
    x, xi = s * half, s[inside] * half
    right_commissure = np.flatnonzero(s >= r - 1e-9)[::-1]  # from the outer corner in to the inner corner
    left_commissure = np.flatnonzero(s <= -r + 1e-9)

    def lip(outer: np.ndarray, inner_contour: np.ndarray) -> np.ndarray:
        return np.concatenate([
            np.stack([x, outer], axis=1),
            np.stack([x[right_commissure[1:-1]], base[right_commissure[1:-1]]], axis=1),
            np.stack([xi[::-1], inner_contour[::-1]], axis=1),
            np.stack([x[left_commissure[1:-1][::-1]], base[left_commissure[1:-1][::-1]]], axis=1),
        ])  # fmt: skip

    geo.contours["upper_lip"] = Contour(lip(outer_upper, inner_upper), True)
    geo.contours["lower_lip"] = Contour(lip(outer_lower, inner_lower), True)
    outer = np.concatenate([np.stack([x, outer_upper], axis=1), np.stack([x, outer_lower], axis=1)[-2:0:-1]])
    inner_contour = np.concatenate([np.stack([xi, inner_upper], 1), np.stack([xi, inner_lower], 1)[-2:0:-1]])
    geo.contours["outer_lip"] = Contour(outer, True)
    geo.contours["inner_lip"] = Contour(inner_contour, True)
    if e.mouth_open > 0:
        geo.contours["mouth"] = Contour(inner_contour, True)
        teeth = min(0.06, 0.55 * e.mouth_open)
        upper = np.stack([xi, inner_upper], axis=1)
        geo.contours["teeth"] = Contour(np.concatenate([upper, (upper + np.array([0.0, teeth]))[::-1]]), True)
    n, m = len(s), int(inside.sum())
    si = s[inside]
    for k, v in enumerate([-1.0, -0.62, -0.28, 0.0, 0.28, 0.62, 1.0]):  # 48-54, upper lip left to right
        geo.landmarks[48 + k] = ("outer_lip", _at(s, v), "corner" if abs(v) == 1.0 else "smooth")
    for k, v in enumerate([0.62, 0.28, 0.0, -0.28, -0.62]):  # 55-59, lower lip right to left
        geo.landmarks[55 + k] = ("outer_lip", 2 * n - 2 - _at(s, v), "smooth")
    for k, v in enumerate([-r, -0.5 * r, 0.0, 0.5 * r, r]):  # 60-64
        geo.landmarks[60 + k] = ("inner_lip", _at(si, v), "corner" if abs(v) == r else "smooth")
    for k, v in enumerate([0.5 * r, 0.0, -0.5 * r]):  # 65-67
        geo.landmarks[65 + k] = ("inner_lip", 2 * m - 2 - _at(si, v), "smooth")


def _add_hair_loop(geo: FaceGeometry, f: FaceParams) -> None:
    """Where the hair meets the skin, once around the head: the hairline across the forehead (rising from the
    temples to ``hairline_y`` in the middle), along the temples at ``temple_y`` to the ear line, down the ear line
    to ``ear_bottom``, and around the back of the head at that height. Hair covers the head above it."""
    temple, ear = np.deg2rad(70.0), f.ear_angle
    front = np.linspace(-temple, temple, 41)
    side = np.linspace(temple, ear, 9)[1:]
    back = np.linspace(ear, np.pi, 9)[1:]
    drop = np.linspace(f.temple_y, f.ear_bottom, 9)[1:]
    theta = np.concatenate([-back[::-1], np.full(8, -ear), -side[::-1], front, side, np.full(8, ear), back])
    y = np.concatenate([
        np.full(8, f.ear_bottom), drop[::-1], np.full(8, f.temple_y),
        f.hairline_y + (f.temple_y - f.hairline_y) * (np.abs(front) / temple) ** 4,
        np.full(8, f.temple_y), drop, np.full(8, f.ear_bottom),
    ])  # fmt: skip
    geo.hair_loop = geo.head.surface(theta, y)


def build_geometry(f: FaceParams) -> FaceGeometry:
    """All parts of face ``f`` in the face frame."""
    geo = FaceGeometry(head=f.head)
    _add_brow(geo, f, -1, 17)
    _add_brow(geo, f, 1, 22)
    _add_nose(geo, f)
    _add_eye(geo, f, -1, f.expression.eye_open[0], 36)
    _add_eye(geo, f, 1, f.expression.eye_open[1], 42)
    _add_mouth(geo, f)
    _add_hair_loop(geo, f)
    return geo


__all__ = ["Contour", "Expression", "FaceGeometry", "FaceParams", "HeadShape", "build_geometry", "sample_face"]
