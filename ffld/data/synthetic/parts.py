"""The 68-point iBUG/300W landmark scheme and the part labels SynthFace renders.

Landmark indices are 0-based, in the 300W order (Sagonas et al., 2013): jaw 0–16, right brow 17–21, left brow
22–26, nose bridge 27–30, nose base 31–35, right eye 36–41, left eye 42–47, outer lip 48–59, inner lip 60–67.
"Right" is the subject's right, which appears on the image's left in a frontal face.

Every rendered pixel carries a part label (the label map). Each landmark lies on the boundary between two label
sets given by :func:`boundary_rules`; these rules are the specification the tests check the rendering against.
"""

from __future__ import annotations

from enum import IntEnum

NUM_LANDMARKS = 68

GROUPS: dict[str, range] = {
    "jaw": range(0, 17),
    "right_brow": range(17, 22),
    "left_brow": range(22, 27),
    "nose_bridge": range(27, 31),
    "nose_base": range(31, 36),
    "right_eye": range(36, 42),
    "left_eye": range(42, 48),
    "outer_lip": range(48, 60),
    "inner_lip": range(60, 68),
}

# Colours (RGB, 0-1) used to draw each group in figures.
GROUP_COLOURS: dict[str, tuple[float, float, float]] = {
    "jaw": (1.0, 0.85, 0.1),
    "right_brow": (0.3, 0.9, 0.3),
    "left_brow": (0.3, 0.9, 0.3),
    "nose_bridge": (0.2, 0.8, 1.0),
    "nose_base": (0.2, 0.5, 1.0),
    "right_eye": (1.0, 0.3, 1.0),
    "left_eye": (1.0, 0.3, 1.0),
    "outer_lip": (1.0, 0.25, 0.25),
    "inner_lip": (1.0, 0.6, 0.6),
}


class Label(IntEnum):
    """Part labels of the rendered label map (uint8)."""

    BACKGROUND = 0
    CLOTHES = 1
    HAIR = 2
    NECK = 3
    SKIN = 4
    BROW = 5
    LID = 6  # the dark lash line above the upper eyelid
    SCLERA = 7
    IRIS = 8  # iris and pupil
    NOSE_RIGHT = 9  # facets of the subject's right half of the nose
    NOSE_LEFT = 10
    UPPER_LIP = 11
    LOWER_LIP = 12
    MOUTH = 13  # mouth interior
    TEETH = 14
    OCCLUDER = 15


L = Label
_BEHIND_FACE = frozenset({L.BACKGROUND, L.HAIR, L.NECK, L.CLOTHES})
_NOSE = frozenset({L.NOSE_RIGHT, L.NOSE_LEFT})
_EYE_OPENING = frozenset({L.SCLERA, L.IRIS})
_LIPS = frozenset({L.UPPER_LIP, L.LOWER_LIP})
_MOUTH_INSIDE = frozenset({L.MOUTH, L.TEETH})

# Labels that may legitimately appear around a landmark of each group; any other label within a pixel or two
# means the landmark is hidden (by an occluder, or by another part of the face).
_NEIGHBOURHOOD: dict[str, frozenset[int]] = {
    "jaw": frozenset({L.SKIN}) | _BEHIND_FACE,
    "brow": frozenset({L.BROW, L.SKIN}),
    "nose": _NOSE | {L.SKIN} | _BEHIND_FACE,
    "eye": _EYE_OPENING | {L.LID, L.SKIN},
    "lip": _LIPS | _MOUTH_INSIDE | {L.SKIN},
}

BoundaryRule = tuple[frozenset[int], frozenset[int]]


def group_of(index: int) -> str:
    """The name of the group (a key of :data:`GROUPS`) that landmark ``index`` belongs to."""
    for name, members in GROUPS.items():
        if index in members:
            return name
    raise ValueError(f"landmark index {index} is outside 0..{NUM_LANDMARKS - 1}")


def _kind(index: int) -> str:
    name = group_of(index)
    if name.endswith("brow"):
        return "brow"
    if name.startswith("nose"):
        return "nose"
    if name.endswith("eye"):
        return "eye"
    if name.endswith("lip"):
        return "lip"
    return name


def neighbourhood_labels(index: int) -> frozenset[int]:
    """Labels allowed next to landmark ``index``; another label there marks the landmark as hidden."""
    return _NEIGHBOURHOOD[_kind(index)]


def boundary_rules(index: int, eye_closed: bool = False, mouth_closed: bool = False) -> list[BoundaryRule]:
    """Where landmark ``index`` lies, as 300W annotates it: on a boundary between a pixel labelled in ``A`` and a
    different pixel labelled in ``B``, for one of the returned ``(A, B)`` rules.

    Args:
        index: the landmark (0–67).
        eye_closed: whether the eye this landmark belongs to is closed (the lids meet under the lash line).
        mouth_closed: whether the mouth is closed (the inner lip contours meet between the two lips).
    """
    group = group_of(index)
    if group == "jaw":  # the face silhouette against whatever is behind the face
        return [(frozenset({L.SKIN}), _BEHIND_FACE)]
    if group.endswith("brow"):  # 300W marks the upper edge of the brow
        return [(frozenset({L.BROW}), frozenset({L.SKIN}))]
    if group == "nose_bridge":  # the ridge between the two halves, or the nose's outline under strong yaw
        return [(frozenset({L.NOSE_RIGHT}), frozenset({L.NOSE_LEFT})), (_NOSE, frozenset({L.SKIN}) | _BEHIND_FACE)]
    if group == "nose_base":  # the lower edge of the nose against the upper lip
        rules = [(_NOSE, frozenset({L.SKIN}))]
        if index == 33:
            rules.append((frozenset({L.NOSE_RIGHT}), frozenset({L.NOSE_LEFT})))
        return rules
    if group.endswith("eye"):
        if eye_closed:  # the closed lids meet at the lower edge of the lash line
            return [(frozenset({L.LID}), frozenset({L.SKIN}))]
        position = (index - 36) % 6  # 0 and 3: corners, 1-2: upper lid, 4-5: lower lid
        if position in (1, 2):
            return [(_EYE_OPENING, frozenset({L.LID}))]
        if position in (4, 5):
            return [(_EYE_OPENING, frozenset({L.SKIN}))]
        return [(_EYE_OPENING, frozenset({L.SKIN, L.LID}))]
    if group == "outer_lip":
        if index in (48, 54):
            return [(_LIPS, frozenset({L.SKIN}))]
        lip = L.UPPER_LIP if index < 54 else L.LOWER_LIP
        return [(frozenset({lip}), frozenset({L.SKIN}))]
    # inner lip
    if index in (60, 64):
        return [(_LIPS, _LIPS | _MOUTH_INSIDE)]
    lip, other = (L.UPPER_LIP, L.LOWER_LIP) if index < 64 else (L.LOWER_LIP, L.UPPER_LIP)
    if mouth_closed:
        return [(frozenset({lip}), frozenset({other}))]
    return [(frozenset({lip}), _MOUTH_INSIDE)]


__all__ = [
    "GROUPS",
    "GROUP_COLOURS",
    "NUM_LANDMARKS",
    "BoundaryRule",
    "Label",
    "boundary_rules",
    "group_of",
    "neighbourhood_labels",
]
