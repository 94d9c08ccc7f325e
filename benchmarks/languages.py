"""How intelligible OpenLive's speech is in each of the 30 languages of `languageCode`.

For each language, three short everyday sentences written in that language are spoken
by the TTS (`PiperTTS`, the voice given, `language=` the code) and transcribed by the
server's own recognizer (`WhisperASR`, Whisper base, with the language given). The
measure is the error rate of the transcript against the sentence: word error rate
(WER), and character error rate (CER), which is the one that means something for
languages written without spaces (Japanese, Chinese, Thai). Both are computed after
lower-casing and removing punctuation; CER also ignores spaces.

This is a first, cheap measure of intelligibility: our recognizer listening to our own
voice. A small recognizer errs on human speech too (Whisper base's published error rates
on some of these languages are high), so a high figure can be the recognizer's as much
as the voice's. It runs the models in this process, on 2 threads; no server.

Usage: .venv/bin/python benchmarks/languages.py [--voice NAME ...] [--languages CODE ...]
           [--data-dir DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import jiwer
import numpy as np

from openlive.audio.resample import resample
from openlive.backends.models import prepare_whisper
from openlive.backends.piper import PiperTTS
from openlive.backends.voice import OUTPUT_RATE, SAMPLE_RATE
from openlive.backends.voices import LANGUAGES, find_language
from openlive.backends.whisper import WhisperASR
from openlive.config import default_data_dir

ROOT = Path(__file__).resolve().parents[1]

ENGLISH = (
    "Good morning, how are you today?",
    "The weather is very nice today.",
    "I would like a cup of coffee, please.",
)

SENTENCES: dict[str, tuple[str, ...]] = {
    "de-DE": (
        "Guten Morgen, wie geht es dir heute?",
        "Das Wetter ist heute sehr schön.",
        "Ich möchte bitte eine Tasse Kaffee.",
    ),
    "en-AU": ENGLISH,
    "en-GB": ENGLISH,
    "en-IN": ENGLISH,
    "en-US": ENGLISH,
    "es-US": (
        "Buenos días, ¿cómo estás hoy?",
        "Hoy hace muy buen tiempo.",
        "Quisiera una taza de café, por favor.",
    ),
    "fr-FR": (
        "Bonjour, comment allez-vous aujourd'hui ?",
        "Il fait très beau aujourd'hui.",
        "Je voudrais une tasse de café, s'il vous plaît.",
    ),
    "hi-IN": (
        "नमस्ते, आज आप कैसे हैं?",
        "आज मौसम बहुत अच्छा है।",
        "मुझे एक कप चाय चाहिए।",
    ),
    "pt-BR": (
        "Bom dia, como você está hoje?",
        "O tempo está muito bom hoje.",
        "Eu gostaria de uma xícara de café, por favor.",
    ),
    "ar-XA": (
        "صباح الخير، كيف حالك اليوم؟",
        "الطقس جميل جدا اليوم.",
        "أريد فنجان قهوة من فضلك.",
    ),
    "es-ES": (
        "Buenos días, ¿qué tal estás hoy?",
        "Hoy hace un día muy bonito.",
        "Me gustaría un café con leche, por favor.",
    ),
    "fr-CA": (
        "Bonjour, comment ça va aujourd'hui ?",
        "Il fait vraiment beau ce matin.",
        "Je prendrais un café, s'il vous plaît.",
    ),
    "id-ID": (
        "Selamat pagi, apa kabar hari ini?",
        "Cuaca hari ini sangat bagus.",
        "Saya mau secangkir kopi.",
    ),
    "it-IT": (
        "Buongiorno, come stai oggi?",
        "Oggi il tempo è molto bello.",
        "Vorrei una tazza di caffè, per favore.",
    ),
    "ja-JP": (
        "おはようございます、今日は元気ですか。",
        "今日はとてもいい天気です。",
        "コーヒーを一杯ください。",
    ),
    "tr-TR": (
        "Günaydın, bugün nasılsın?",
        "Bugün hava çok güzel.",
        "Bir fincan kahve istiyorum.",
    ),
    "vi-VN": (
        "Chào buổi sáng, hôm nay bạn khỏe không?",
        "Hôm nay trời rất đẹp.",
        "Tôi muốn một tách cà phê.",
    ),
    "bn-IN": (
        "সুপ্রভাত, আজ আপনি কেমন আছেন?",
        "আজ আবহাওয়া খুব ভালো।",
        "আমি এক কাপ চা চাই।",
    ),
    "gu-IN": (
        "સુપ્રભાત, આજે તમે કેમ છો?",
        "આજે હવામાન ખૂબ સરસ છે.",
        "મને એક કપ ચા જોઈએ છે.",
    ),
    "kn-IN": (
        "ಶುಭೋದಯ, ಇಂದು ನೀವು ಹೇಗಿದ್ದೀರಿ?",
        "ಇಂದು ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ.",
        "ನನಗೆ ಒಂದು ಕಪ್ ಕಾಫಿ ಬೇಕು.",
    ),
    "ml-IN": (
        "സുപ്രഭാതം, ഇന്ന് സുഖമാണോ?",
        "ഇന്ന് കാലാവസ്ഥ വളരെ നല്ലതാണ്.",
        "എനിക്ക് ഒരു കപ്പ് ചായ വേണം.",
    ),
    "mr-IN": (
        "सुप्रभात, आज तुम्ही कसे आहात?",
        "आज हवामान खूप छान आहे.",
        "मला एक कप चहा हवा आहे.",
    ),
    "ta-IN": (
        "காலை வணக்கம், இன்று எப்படி இருக்கிறீர்கள்?",
        "இன்று வானிலை மிகவும் நன்றாக இருக்கிறது.",
        "எனக்கு ஒரு கப் காபி வேண்டும்.",
    ),
    "te-IN": (
        "శుభోదయం, ఈ రోజు మీరు ఎలా ఉన్నారు?",
        "ఈ రోజు వాతావరణం చాలా బాగుంది.",
        "నాకు ఒక కప్పు కాఫీ కావాలి.",
    ),
    "nl-NL": (
        "Goedemorgen, hoe gaat het vandaag met je?",
        "Het weer is vandaag erg mooi.",
        "Ik wil graag een kopje koffie.",
    ),
    "ko-KR": (
        "안녕하세요, 오늘 기분이 어떠세요?",
        "오늘 날씨가 정말 좋아요.",
        "커피 한 잔 주세요.",
    ),
    "cmn-CN": (
        "早上好，你今天好吗？",
        "今天天气很好。",
        "我想喝一杯咖啡。",
    ),
    "pl-PL": (
        "Dzień dobry, jak się dzisiaj masz?",
        "Dzisiaj jest bardzo ładna pogoda.",
        "Poproszę filiżankę kawy.",
    ),
    "ru-RU": (
        "Доброе утро, как у тебя дела сегодня?",
        "Сегодня очень хорошая погода.",
        "Я хочу чашку кофе.",
    ),
    "th-TH": (
        "สวัสดีตอนเช้า วันนี้คุณสบายดีไหม",
        "วันนี้อากาศดีมาก",
        "ขอกาแฟหนึ่งแก้วครับ",
    ),
}


def normalize(text: str) -> str:
    """Lower case, punctuation and symbols out, spaces collapsed."""
    kept = "".join(
        " " if unicodedata.category(c)[0] in "PSZ" else c
        for c in unicodedata.normalize("NFC", text)
    )
    return " ".join(kept.lower().split())


def error_rates(references: list[str], hypotheses: list[str]) -> tuple[float, float]:
    """(WER, CER) over all the sentences together."""
    refs = [normalize(r) for r in references]
    hyps = [normalize(h) for h in hypotheses]
    wer = jiwer.wer(refs, hyps)
    cer = jiwer.cer([r.replace(" ", "") for r in refs], [h.replace(" ", "") for h in hyps])
    return float(wer), float(cer)


@dataclass
class Result:
    language: str
    name: str
    voice: str
    wer: float
    cer: float
    spaced: bool
    synthesis_rtf: float
    transcripts: list[str]

    @property
    def score(self) -> float:
        """The error rate that fits the script: WER, or CER without word spaces."""
        return self.wer if self.spaced else self.cer


def measure(tts: PiperTTS, asr: WhisperASR, code: str, voice: str) -> Result:
    language = find_language(code)
    assert language is not None
    transcripts = []
    synth_s = audio_s = 0.0
    for sentence in SENTENCES[language.code]:
        start = time.perf_counter()
        pieces = list(tts.synthesize(sentence, voice=voice, language=language.code))
        synth_s += time.perf_counter() - start
        speech = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        audio_s += len(speech) / OUTPUT_RATE
        heard = asr.transcribe(resample(speech, OUTPUT_RATE, SAMPLE_RATE), language.whisper)
        transcripts.append(heard.text)
    wer, cer = error_rates(list(SENTENCES[language.code]), transcripts)
    return Result(
        language=language.code,
        name=language.name,
        voice=voice,
        wer=wer,
        cer=cer,
        spaced=language.spaced,
        synthesis_rtf=synth_s / audio_s if audio_s else 0.0,
        transcripts=transcripts,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voice", action="append", help="a voice name (repeatable; Puck)")
    parser.add_argument("--languages", nargs="*", help="language codes (default: all 30)")
    parser.add_argument("--data-dir", type=Path, default=None, help="where Whisper is prepared")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "languages.json"
    )
    args = parser.parse_args()
    voices = args.voice or ["Puck"]
    codes = args.languages or [language.code for language in LANGUAGES.values()]
    unknown = [code for code in codes if find_language(code) is None]
    if unknown:
        parser.error(f"unknown language codes: {', '.join(unknown)}")

    data_dir = args.data_dir or default_data_dir()
    asr = WhisperASR(prepare_whisper(data_dir / "models"), threads=2)
    tts = PiperTTS(threads=2)
    results: list[Result] = []
    for voice in voices:
        for code in codes:
            result = measure(tts, asr, code, voice)
            results.append(result)
            print(
                f"{result.language:7s} {voice:8s} WER {result.wer:5.2f}  CER {result.cer:5.2f}"
                f"  rtf {result.synthesis_rtf:.2f}  | {' / '.join(result.transcripts)}",
                flush=True,
            )

    print("\n| Language | Code | " + " | ".join(f"{v}: WER | {v}: CER" for v in voices) + " |")
    print("|---|---|" + "---|---|" * len(voices))
    for code in codes:
        language = find_language(code)
        assert language is not None
        cells = []
        for voice in voices:
            (r,) = [x for x in results if x.language == language.code and x.voice == voice]
            cells += [f"{r.wer:.2f}", f"{r.cer:.2f}"]
        print(f"| {language.name} | `{language.code}` | " + " | ".join(cells) + " |")
    for voice in voices:
        mine = [r for r in results if r.voice == voice]
        score = statistics.median(r.score for r in mine)
        rtf = statistics.median(r.synthesis_rtf for r in mine)
        print(
            f"\n{voice}: median error rate (WER, or CER where there are no word spaces)"
            f" {score:.2f}; synthesis real-time factor, median {rtf:.2f}"
        )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.processor() or platform.machine()}, {_cpus()} CPUs",
                "python": platform.python_version(),
                "piper-tts": version("piper-tts"),
                "faster-whisper": version("faster-whisper"),
                "results": [asdict(r) for r in results],
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"\nwritten to {args.out}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
