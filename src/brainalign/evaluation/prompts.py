"""Class prompts for zero-shot decoding from text, per dataset layout and label column.

Several prompts per class are embedded and averaged (a prompt ensemble). They are
written in the register of the texts each reader pairs with the EEG, so zero-shot
asks the question in the words the model was aligned with. Users extend
``CLASS_PROMPTS`` or pass their own mapping.
"""

from __future__ import annotations

CLASS_PROMPTS: dict[tuple[str, str], dict[str, list[str]]] = {
    ("eegmat", "label"): {
        "rest": [
            "EEG of a person at rest, doing nothing in particular",
            "EEG of a subject resting",
            "EEG of an adult at rest",
        ],
        "arithmetic": [
            "EEG of a person performing serial subtraction (mental arithmetic)",
            "EEG of a subject doing mental arithmetic",
            "EEG of an adult performing serial subtraction",
        ],
    },
    ("eegmat", "sex"): {
        "F": ["EEG of a female", "EEG of a woman", "EEG of a young female"],
        "M": ["EEG of a male", "EEG of a man", "EEG of a young male"],
    },
    ("eegmat", "count_quality"): {
        "1": ["performing serial subtraction, with good counting quality", "good counting quality"],
        "0": ["performing serial subtraction, with bad counting quality", "bad counting quality"],
    },
    ("eegnb", "label"): {
        "face": ["a photograph of a face", "a face", "a photo of a person's face"],
        "house": ["a photograph of a house", "a house", "a photo of a building"],
    },
    ("eegmmidb", "label"): {
        "left_fist": ["opening and closing of the left fist", "imagined opening and closing of the left fist"],
        "right_fist": ["opening and closing of the right fist", "imagined opening and closing of the right fist"],
        "both_fists": ["opening and closing of both fists", "imagined opening and closing of both fists"],
        "both_feet": ["opening and closing of both feet", "imagined opening and closing of both feet"],
    },
}


def prompts_for(reader: str, column: str, classes: list[str]) -> dict[str, list[str]] | None:
    """Prompts for every class in ``classes``, or None when the registry lacks any."""
    table = CLASS_PROMPTS.get((reader, column))
    if table is None or not all(str(c) in table for c in classes):
        return None
    return {str(c): table[str(c)] for c in classes}
