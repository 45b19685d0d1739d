"""Tiny random emotion-LLM checkpoints built on the fly and saved like real ones (tokenizer, LM, vision,
audio, a LLaVA-class multimodal model with its processor), so tests load them through the same
local-folder path as a real checkpoint."""

from __future__ import annotations

from pathlib import Path

from core.vocabulary import ASPECT_TITLES, LABEL_SETS

CORPUS = [
    "You explain why the person in a video clip feels what they feel.",
    "Video frames: Audio: Transcript: (nothing is said) Measured evidence:",
    'Answer with JSON only: {"emotion": "...", "facial": "...", "vocal": "...", "verbal": "...", "scene": "..."}.',
    "The emotion is one of: Each clue says what the show about the emotion. Write the clues in English Chinese",
    "The person smiles warmly and says hello, the voice is bright and the room is sunny.",
    "She frowns, raises her voice and slams the table in a dark, harsh room.",
    "I am so happy to see you again, this is wonderful!",
    "我今天真的很生气，你为什么不告诉我。她皱着眉头，声音很大。房间很暗。",
    "他笑着说你好，语气轻快，阳光明媚。简体中文",
    "A face is visible but its movements could not be read; expression model: No audio, no vocal evidence.",
    "Nothing is said: no verbal evidence. No video frames, so no scene evidence. Hz syllables/s dB",
    "USER: ASSISTANT:",
    " ".join(l for labels in LABEL_SETS.values() for l in labels),
    " ".join(t for titles in ASPECT_TITLES.values() for t in titles.values()),
]


def build_tokenizer(folder: Path, *, extra_special: list[str] | None = None, chat_template: str | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS * 3, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>",
                                   bos_token="<s>", eos_token="</s>")
    if extra_special:
        fast.add_special_tokens({"additional_special_tokens": extra_special})
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return fast


def _llama_config(tokenizer, hidden: int = 48):  # noqa: ANN001, ANN202
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)


def _vision_config():  # noqa: ANN202
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                            image_size=32, patch_size=8, projection_dim=32)


def _image_processor():  # noqa: ANN202
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


def build_composed(root: Path, *, seed: int = 0) -> dict[str, Path]:
    """LM + tokenizer, a CLIP vision tower and a Whisper encoder, each in its own folder."""
    import torch
    from transformers import CLIPVisionModel, LlamaForCausalLM, WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(seed)
    lm, vision, audio = root / "lm", root / "vision", root / "audio"
    tokenizer = build_tokenizer(lm)
    LlamaForCausalLM(_llama_config(tokenizer)).save_pretrained(lm)
    CLIPVisionModel(_vision_config()).save_pretrained(vision)
    _image_processor().save_pretrained(vision)
    whisper = WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
                            decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                            max_source_positions=100, max_target_positions=32, vocab_size=100, pad_token_id=1,
                            bos_token_id=2, eos_token_id=3, decoder_start_token_id=2)
    WhisperModel(whisper).save_pretrained(audio)
    WhisperFeatureExtractor(feature_size=80, chunk_length=2).save_pretrained(audio)  # 2 s windows: 200 mel frames
    return {"lm": lm, "vision": vision, "audio": audio}


CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant: {% endif %}")


def build_llava(root: Path, *, seed: int = 0) -> Path:
    """A LLaVA-class checkpoint (CLIP tower, projector, Llama) with its processor and a chat template."""
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    torch.manual_seed(seed)
    folder = root / "llava"
    tokenizer = build_tokenizer(folder, extra_special=["<image>"], chat_template=CHAT_TEMPLATE)
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    config = LlavaConfig(vision_config=_vision_config(), text_config=_llama_config(tokenizer),
                         image_token_index=image_token, vision_feature_layer=-1,
                         vision_feature_select_strategy="default")
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    LlavaProcessor(image_processor=_image_processor(), tokenizer=tokenizer, patch_size=8,
                   vision_feature_select_strategy="default", image_token="<image>",
                   num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE).save_pretrained(folder)
    return folder


def composed_env(paths: dict[str, Path]) -> dict[str, str]:
    """Settings (environment) for the composition on the CPU, small enough for tests."""
    return {"CLUELAB_MODEL_BACKEND": "emotion_llm", "CLUELAB_EMOTION_LLM_LM": str(paths["lm"]),
            "CLUELAB_EMOTION_LLM_VISION": str(paths["vision"]), "CLUELAB_EMOTION_LLM_AUDIO": str(paths["audio"]),
            "CLUELAB_EMOTION_LLM_DEVICE": "cpu", "CLUELAB_EMOTION_LLM_FRAMES": "3", "CLUELAB_EMOTION_LLM_MAX_NEW_TOKENS": "48",
            "CLUELAB_EMOTION_LLM_QUERY_TOKENS": "4", "CLUELAB_EMOTION_LLM_BATCH_SIZE": "4", "CLUELAB_EMOTION_LLM_LORA_R": "4",
            "CLUELAB_EMOTION_LLM_LORA_ALPHA": "8", "CLUELAB_EMOTION_LLM_LEARNING_RATE": "0.01", "CLUELAB_EMOTION_LLM_MAX_STEPS": "6",
            "CLUELAB_EMOTION_LLM_TRAIN_BATCH_SIZE": "2", "CLUELAB_EMOTION_LLM_GRAD_ACCUM": "1"}


def llava_env(folder: Path) -> dict[str, str]:
    env = composed_env({"lm": Path(), "vision": Path(), "audio": Path()})
    env.update({"CLUELAB_EMOTION_LLM_CHECKPOINT": str(folder), "CLUELAB_EMOTION_LLM_LM": "", "CLUELAB_EMOTION_LLM_VISION": "",
                "CLUELAB_EMOTION_LLM_AUDIO": "", "CLUELAB_EMOTION_LLM_FRAMES": "2"})
    return env
