package chat

// builtinSources are the templates for models whose file has none, written
// after the published Hugging Face templates of each family (text content
// only). The alternation checks raise as those do.
var builtinSources = map[string]string{
	// ChatML (Qwen, Yi, many fine-tunes); llama.cpp's default too.
	"chatml": "{% for message in messages %}" +
		"{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",

	// Llama 2 chat: the system prompt inside the first [INST].
	"llama2": "{% if messages[0]['role'] == 'system' %}" +
		"{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
		"{% else %}{% set loop_messages = messages %}{% set system_message = '' %}{% endif %}" +
		"{% for message in loop_messages %}" +
		"{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
		"{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
		"{% if loop.index0 == 0 and system_message %}" +
		"{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
		"{% else %}{% set content = message['content'] %}{% endif %}" +
		"{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
		"{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}" +
		"{% endfor %}",

	// Llama 3 instruct.
	"llama3": "{% for message in messages %}" +
		"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}" +
		"{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}" +
		"{{ content }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",

	// Gemma (2 and 3): no system role, so a system prompt begins the
	// first user turn, as Gemma 3's template does.
	"gemma": "{{ bos_token }}" +
		"{% if messages[0]['role'] == 'system' %}" +
		"{% set first_user_prefix = messages[0]['content'] + '\\n\\n' %}{% set loop_messages = messages[1:] %}" +
		"{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}" +
		"{% for message in loop_messages %}" +
		"{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
		"{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
		"{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
		"{% if loop.first %}{% set prefix = first_user_prefix %}{% else %}{% set prefix = '' %}{% endif %}" +
		"{{ '<start_of_turn>' + role + '\\n' + prefix + message['content'] | trim + '<end_of_turn>\\n' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}",

	// Command R (Cohere): turns between <|START_OF_TURN_TOKEN|> and
	// <|END_OF_TURN_TOKEN|>, contents trimmed, as llama.cpp's built-in.
	"command-r": "{% for message in messages %}" +
		"{% if message['role'] == 'system' %}{% set tag = '<|SYSTEM_TOKEN|>' %}" +
		"{% elif message['role'] == 'user' %}{% set tag = '<|USER_TOKEN|>' %}" +
		"{% else %}{% set tag = '<|CHATBOT_TOKEN|>' %}{% endif %}" +
		"{{ '<|START_OF_TURN_TOKEN|>' + tag + message['content'] | trim + '<|END_OF_TURN_TOKEN|>' }}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}",

	// Phi-3 instruct.
	"phi3": "{% for message in messages %}" +
		"{% if message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + '<|end|>\\n' }}" +
		"{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '<|end|>\\n' }}" +
		"{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' + message['content'] + '<|end|>\\n' }}{% endif %}" +
		"{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",

	// Mistral instruct ([INST] turns); a system prompt begins the first
	// user turn.
	"mistral": "{{ bos_token }}" +
		"{% if messages[0]['role'] == 'system' %}" +
		"{% set system_prefix = messages[0]['content'] + '\\n\\n' %}{% set loop_messages = messages[1:] %}" +
		"{% else %}{% set system_prefix = '' %}{% set loop_messages = messages %}{% endif %}" +
		"{% for message in loop_messages %}" +
		"{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
		"{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
		"{% if message['role'] == 'user' %}" +
		"{% if loop.first %}{{ '[INST] ' + system_prefix + message['content'] + ' [/INST]' }}" +
		"{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}" +
		"{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}" +
		"{% else %}{{ raise_exception('Only user and assistant roles are supported') }}{% endif %}" +
		"{% endfor %}",
}
