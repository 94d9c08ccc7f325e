"""The prebuilt voice names and the language codes of speech, as data.

**Voices.** The Live API names 30 prebuilt voices (8 of them on half-cascade models).
OpenLive derives each from one Piper voice (by default the bundled ``en_US-joe-medium``,
a low male voice) with a `VoiceStyle`: a pitch factor and a vocal-tract (formant)
factor, a speaking rate, a spectral tilt, and the model's own variability settings. The
16 voices that the hosted service gives male voices stay in the male range (about 80 to
130 Hz), the 14 female ones are raised to about 170 to 250 Hz with their formants raised
less, as a shorter vocal tract would. Voices on the same pitch step differ in rate by at
least 14 %, so that any two voices differ in pitch or in pace (see ``docs/voice.md``,
where the measured pitch of each is listed). The styles are fixed, so a name sounds the
same every time.

**Languages.** The 30 ``languageCode`` values that half-cascade models accept, each with
the espeak-ng voice that phonemizes it and the code that Whisper knows it by.

This module is data only (no numpy, no model), so that the catalogue can check names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..config import STYLE_RANGES

__all__ = [
    "BUILTIN_VOICES",
    "DEFAULT_VOICE",
    "HALF_CASCADE_VOICES",
    "LANGUAGES",
    "NATIVE_AUDIO_VOICES",
    "Language",
    "VoiceStyle",
    "find_language",
]


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """How one voice is derived from a Piper voice. The defaults leave it as it is."""

    pitch: float = 1.0
    """The factor on the fundamental frequency (1.3 is 30 % higher)."""
    formant: float = 1.0
    """The factor on the formant frequencies: above 1 sounds like a shorter vocal tract."""
    rate: float = 1.0
    """The speaking rate: above 1 is faster."""
    tilt: float = 0.0
    """Spectral tilt above 1 kHz, in dB per octave: positive is brighter, negative darker."""
    noise_scale: float | None = None
    """Piper's generator noise (variation in delivery); None keeps the model's value."""
    noise_w: float | None = None
    """Piper's phoneme-duration noise (variation in rhythm); None keeps the model's value."""

    def check(self) -> None:
        for name, (low, high) in STYLE_RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, not {value}")
        for name, noise in (("noise_scale", self.noise_scale), ("noise_w", self.noise_w)):
            if noise is not None and not 0 <= noise <= 2:
                raise ValueError(f"{name} must be between 0 and 2, not {noise}")

    @property
    def plain(self) -> bool:
        """Whether synthesis needs no processing beyond the model itself."""
        return self.pitch == 1.0 and self.formant == 1.0 and self.tilt == 0.0


DEFAULT_VOICE: Final = "Puck"
"""The voice of a session that names none: the bundled Piper voice itself."""


def _voice(
    pitch: float,
    rate: float,
    formant: float,
    tilt: float = 0.0,
    noise_scale: float | None = None,
    noise_w: float | None = None,
) -> VoiceStyle:
    return VoiceStyle(pitch, formant, rate, tilt, noise_scale, noise_w)


# Pitch steps of about 7 %: eight for the male voices (from 0.86 of the model's own pitch
# to 1.40), seven for the female ones (1.84 to 2.77). The two voices of a step differ in
# vocal tract (formant) by 6 to 8 %, in tilt, and in rate by at least 14 %.
BUILTIN_VOICES: Final[dict[str, VoiceStyle]] = {
    # name: _voice(pitch, rate, formant, tilt, noise_scale, noise_w),  # the hosted voice's trait
    # the 8 half-cascade voices first
    "Puck": _voice(1.00, 1.00, 1.00),  # Upbeat
    "Charon": _voice(0.92, 0.93, 0.93, -1.0, 0.55, 0.7),  # Informative
    "Kore": _voice(1.84, 1.07, 1.16, 0.5, 0.55, 0.7),  # Firm
    "Fenrir": _voice(1.40, 1.10, 1.08, 1.0, 0.8, 0.9),  # Excitable
    "Aoede": _voice(2.26, 1.07, 1.22, 0.5, 0.75, 0.9),  # Breezy
    "Leda": _voice(2.77, 1.07, 1.28, 1.0),  # Youthful
    "Orus": _voice(1.07, 1.07, 1.00, 0.5, 0.55, 0.7),  # Firm
    "Zephyr": _voice(2.77, 0.93, 1.20, 2.0),  # Bright
    # the other 22 native-audio voices
    "Callirrhoe": _voice(2.42, 1.07, 1.22, 0.0, 0.7, 1.0),  # Easy-going
    "Autonoe": _voice(2.59, 1.07, 1.24, 2.0),  # Bright
    "Enceladus": _voice(1.00, 0.88, 1.04, -2.0, 0.7, 0.8),  # Breathy
    "Iapetus": _voice(1.15, 1.07, 1.02, 1.0),  # Clear
    "Umbriel": _voice(1.07, 0.93, 1.06, -1.0, 0.7, 1.0),  # Easy-going
    "Algieba": _voice(1.15, 0.93, 1.08, -1.0, 0.6, 0.8),  # Smooth
    "Despina": _voice(2.26, 0.93, 1.14, -0.5, 0.6, 0.8),  # Smooth
    "Erinome": _voice(2.11, 1.07, 1.20, 1.0),  # Clear
    "Algenib": _voice(0.86, 0.93, 0.90, -1.5),  # Gravelly
    "Rasalgethi": _voice(1.31, 0.93, 1.12, -0.5, 0.6, 0.8),  # Informative
    "Laomedeia": _voice(2.59, 0.93, 1.18, 1.0, 0.8, 0.9),  # Upbeat
    "Achernar": _voice(2.42, 0.93, 1.14, -2.0, 0.55, 0.8),  # Soft
    "Alnilam": _voice(0.86, 1.07, 0.97, 0.5, 0.55, 0.7),  # Firm
    "Schedar": _voice(0.92, 1.07, 1.00, 0.5, 0.5, 0.6),  # Even
    "Gacrux": _voice(1.84, 0.93, 1.08, -1.0),  # Mature
    "Pulcherrima": _voice(1.97, 1.07, 1.18, 1.5),  # Forward
    "Achird": _voice(1.23, 1.07, 1.04, 0.5, 0.75, 0.9),  # Friendly
    "Zubenelgenubi": _voice(1.40, 0.95, 1.14, -0.5, 0.7, 1.0),  # Casual
    "Vindemiatrix": _voice(2.11, 0.90, 1.12, -1.0, 0.55, 0.8),  # Gentle
    "Sadachbia": _voice(1.31, 1.10, 1.06, 1.0, 0.8, 0.9),  # Lively
    "Sadaltager": _voice(1.23, 0.93, 1.10, -0.5, 0.6, 0.8),  # Knowledgeable
    "Sulafat": _voice(1.97, 0.93, 1.10, -1.5, 0.7, 0.8),  # Warm
}

HALF_CASCADE_VOICES: Final = ("Puck", "Charon", "Kore", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr")
NATIVE_AUDIO_VOICES: Final = tuple(BUILTIN_VOICES)


@dataclass(frozen=True, slots=True)
class Language:
    """A ``languageCode`` of speech."""

    code: str
    """As the Live API spells it, e.g. ``de-DE``."""
    name: str
    espeak: str
    """The espeak-ng voice that phonemizes it."""
    whisper: str
    """The code Whisper knows it by."""
    spaced: bool = True
    """Whether words are separated by spaces (else error rates are counted in characters)."""


def _languages(
    *rows: tuple[str, str, str, str] | tuple[str, str, str, str, bool],
) -> dict[str, Language]:
    return {row[0].lower(): Language(*row) for row in rows}


LANGUAGES: Final[dict[str, Language]] = _languages(
    ("de-DE", "German (Germany)", "de", "de"),
    ("en-AU", "English (Australia)", "en", "en"),
    ("en-GB", "English (United Kingdom)", "en-gb-x-rp", "en"),
    ("en-IN", "English (India)", "en", "en"),
    ("en-US", "English (United States)", "en-us", "en"),
    ("es-US", "Spanish (United States)", "es-419", "es"),
    ("fr-FR", "French (France)", "fr", "fr"),
    ("hi-IN", "Hindi (India)", "hi", "hi"),
    ("pt-BR", "Portuguese (Brazil)", "pt-br", "pt"),
    ("ar-XA", "Arabic", "ar", "ar"),
    ("es-ES", "Spanish (Spain)", "es", "es"),
    ("fr-CA", "French (Canada)", "fr", "fr"),
    ("id-ID", "Indonesian (Indonesia)", "id", "id"),
    ("it-IT", "Italian (Italy)", "it", "it"),
    ("ja-JP", "Japanese (Japan)", "ja", "ja", False),
    ("tr-TR", "Turkish (Turkey)", "tr", "tr"),
    ("vi-VN", "Vietnamese (Vietnam)", "vi", "vi"),
    ("bn-IN", "Bengali (India)", "bn", "bn"),
    ("gu-IN", "Gujarati (India)", "gu", "gu"),
    ("kn-IN", "Kannada (India)", "kn", "kn"),
    ("ml-IN", "Malayalam (India)", "ml", "ml"),
    ("mr-IN", "Marathi (India)", "mr", "mr"),
    ("ta-IN", "Tamil (India)", "ta", "ta"),
    ("te-IN", "Telugu (India)", "te", "te"),
    ("nl-NL", "Dutch (Netherlands)", "nl", "nl"),
    ("ko-KR", "Korean (South Korea)", "ko", "ko"),
    ("cmn-CN", "Mandarin Chinese (China)", "cmn", "zh", False),
    ("pl-PL", "Polish (Poland)", "pl", "pl"),
    ("ru-RU", "Russian (Russia)", "ru", "ru"),
    ("th-TH", "Thai (Thailand)", "th", "th", False),
)
"""The half-cascade models' 30 codes, keyed in lower case."""


def find_language(code: str) -> Language | None:
    """The language of a ``languageCode`` (in any letter case), or None if it is not one."""
    return LANGUAGES.get(code.strip().lower())
