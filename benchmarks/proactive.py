"""Proactive audio's decision rates on relevant and irrelevant utterances.

Three assistants (a system instruction each), and for each, utterances that are for it
(on its topic, or greeting it) and utterances that are not (people in the room talking
among themselves, the radio, another topic). The decision is `openlive.pipeline.proactive
.decide`, the same call the server makes on each spoken turn's transcript, with no
history (the first turn of a session, the hardest case) and with a short history of the
conversation so far. Prints the rate of relevant utterances answered and of irrelevant
ones left unanswered, and every wrong decision.

    .venv/bin/python benchmarks/proactive.py
"""

from __future__ import annotations

import json
from pathlib import Path

from openlive.pipeline.proactive import decide

SETS: dict[str, dict[str, list[str]]] = {
    "You are a cooking assistant. Help the user with recipes, ingredients, oven "
    "temperatures and cooking times.": {
        "history": [
            "I'm making dinner for four tonight.",
            "Lovely! What would you like to cook?",
        ],
        "relevant": [
            "How long do I bake a potato at 200 degrees?",
            "Can you suggest a recipe with chickpeas?",
            "What can I use instead of eggs in a cake?",
            "Is the oven temperature for bread higher than for cookies?",
            "How many minutes should pasta boil?",
            "Which ingredients go into a basic vinaigrette?",
            "Hello?",
            "How do I know when the chicken is cooked through?",
            "Can I freeze leftover rice?",
            "What temperature should the oil be for frying?",
            "Should I salt the water before the pasta goes in?",
            "How much flour for a dozen pancakes?",
        ],
        "irrelevant": [
            "Did anyone see where I put the car keys?",
            "The match starts at eight, are you coming over?",
            "Mum, can I go to Jake's house after school?",
            "Traffic on the ring road is heavy this morning.",
            "I think the meeting got moved to Thursday.",
            "Turn that music down, please!",
            "Um, okay.",
            "The stock market closed lower on Friday.",
            "Have you finished your homework?",
            "My phone battery is almost dead.",
            "The weather tomorrow will be cloudy with showers.",
            "Who left the door open again?",
        ],
    },
    "You are a travel agent. Help the user plan trips: flights, hotels, trains and visas.": {
        "history": ["I want to go to Lisbon in May.", "Great choice. How many nights?"],
        "relevant": [
            "Are there direct flights from Berlin to Lisbon?",
            "Find me a hotel near the old town.",
            "Do I need a visa for Portugal?",
            "How long is the train from Lisbon to Porto?",
            "Five nights, maybe six.",
            "What's the cheapest way to get there in May?",
            "Can you book a window seat?",
            "Is breakfast included at that hotel?",
            "Hi there!",
            "What time does the last train leave?",
            "Which airport is closest to the city centre?",
            "Could we add a day trip to Sintra?",
        ],
        "irrelevant": [
            "Can you pass the salt?",
            "The dog needs to go out.",
            "I'll call you back after lunch.",
            "Who ate the last biscuit?",
            "My back has been hurting all week.",
            "The printer is jammed again.",
            "Uh huh.",
            "The score was two nil at half time.",
            "We're out of milk.",
            "Are the kids asleep yet?",
            "That film last night was brilliant.",
            "Remind me to water the plants.",
        ],
    },
    "You are Ada, a maths tutor for school students: algebra, fractions, geometry.": {
        "history": ["Can you help me with my homework?", "Of course. What topic is it?"],
        "relevant": [
            "How do I add fractions with different denominators?",
            "What is the area of a circle with radius three?",
            "Ada, can you check my answer?",
            "Solve two x plus five equals eleven.",
            "Why is a negative times a negative positive?",
            "It's algebra, simplifying expressions.",
            "What's a right angle?",
            "How do I find the hypotenuse?",
            "Is one third bigger than one quarter?",
            "Hello?",
            "Can you explain what a prime number is?",
            "What does the x mean in this equation?",
        ],
        "irrelevant": [
            "Dinner is ready, come downstairs!",
            "Did you feed the cat?",
            "I'm going to the shop, need anything?",
            "The bus was late again today.",
            "Who's picking up Grandma on Sunday?",
            "Turn off the lights when you leave.",
            "Mm.",
            "Look at that bird outside!",
            "Your football kit is in the wash.",
            "The news said it might snow.",
            "Where's the remote?",
            "Can I borrow your charger?",
        ],
    },
}


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    wrong: list[str] = []
    for with_history in (False, True):
        label = "with history" if with_history else "first turn"
        answered = ignored = relevant_total = irrelevant_total = 0
        for instruction, utterances in SETS.items():
            history = utterances["history"] if with_history else []
            for text in utterances["relevant"]:
                decision = decide(text, instruction, history)
                relevant_total += 1
                answered += decision.answer
                if not decision.answer:
                    wrong.append(f"[{label}] missed: {text!r} ({decision.reason})")
            for text in utterances["irrelevant"]:
                decision = decide(text, instruction, history)
                irrelevant_total += 1
                ignored += not decision.answer
                if decision.answer:
                    wrong.append(f"[{label}] answered: {text!r} ({decision.reason})")
        results[label] = {
            "relevant answered": answered / relevant_total,
            "irrelevant ignored": ignored / irrelevant_total,
            "relevant": relevant_total,
            "irrelevant": irrelevant_total,
        }
    for label, figures in results.items():
        print(
            f"{label}: relevant answered {figures['relevant answered']:.0%} "
            f"of {figures['relevant']:.0f}, irrelevant ignored "
            f"{figures['irrelevant ignored']:.0%} of {figures['irrelevant']:.0f}"
        )
    print("\n".join(wrong))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "proactive.json").write_text(json.dumps({"rates": results, "wrong": wrong}, indent=2))


if __name__ == "__main__":
    main()
