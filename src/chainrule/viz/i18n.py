"""English and Korean labels for ``cr.explain``, the step-through page and the CLI.

The seed notes are Korean course notes, so everything a learner reads while watching
backprop (table headings, page labels, the local-gradient rule of each gate) exists in
English (``lang="en"``, the default) and Korean (``lang="ko"``). Korean terms follow the
notes: 순전파 (forward), 역전파 (backward), 상류 (upstream), 하류 (downstream),
국소적 미분 (local derivative), 기울기 (gradient).

Use :func:`text` for a label and :func:`rule` for a gate's local-gradient rule::

    >>> text("col.upstream", "ko")
    '상류 기울기'
"""

from __future__ import annotations

import re

from ..errors import LanguageError

__all__ = ["LANGS", "LanguageError", "check_lang", "gate_name", "has_final_consonant",
           "page_labels", "particle", "rule", "text"]

#: The supported languages.
LANGS = ("en", "ko")

_TEXT: dict[str, tuple[str, str]] = {
    # ---- the backward table
    "table.title": ("Backward pass of {root}: {n} gate(s), in the order backward visits "
                    "them (newest first)",
                    "{root}의 역전파: 게이트 {n}개, 역전파가 방문하는 순서 (가장 나중에 만든 "
                    "게이트부터)"),
    "table.empty": ("{root} is an input itself: no gate to go through, d{root}/d{root} = 1",
                    "{root}은(는) 입력 그 자체입니다: 거칠 게이트가 없고 d{root}/d{root} = 1"),
    "col.step": ("step", "단계"),
    "col.gate": ("gate", "게이트"),
    "col.output": ("output", "출력"),
    "col.input": ("input", "입력"),
    "col.value": ("value", "값"),
    "col.upstream": ("upstream", "상류 기울기"),
    "col.local": ("local", "국소 기울기"),
    "col.downstream": ("downstream", "하류 기울기"),
    "constant": ("constant: no gradient", "상수: 기울기 없음"),
    "fanout": ("fan-out: {name} is used {n} times, its gradients add up: {sum}",
               "분기: {name}은(는) {n}곳에 쓰여 기울기를 더함: {sum}"),
    "gradients": ("Gradients (what backward computes):", "기울기 (역전파가 계산한 값):"),
    "no_gradient": ("no gradient reached it", "기울기가 도달하지 않음"),
    "jac.title": ("Local Jacobians (the vector chain rule: upstream (1, m) · local (m, n) = "
                  "downstream (1, n)):",
                  "국소 야코비 행렬 (벡터의 연쇄법칙: 상류 (1, m) · 국소 (m, n) = 하류 (1, n)):"),
    "jac.line": ("step {step} {gate}: d{out}/d{inp} has shape {shape}, {structure}; "
                 "upstream {up} · {shape} = downstream {down} {check}",
                 "{step}단계 {gate}: d{out}/d{inp}의 모양은 {shape}, {structure}; "
                 "상류 {up} · {shape} = 하류 {down} {check}"),
    "jac.diagonal": ("diagonal (elementwise)", "대각 행렬 (원소별 연산)"),
    "jac.selection": ("a selection (each output copies one input)",
                      "선택 (출력마다 입력 하나를 복사)"),
    "jac.sum": ("all entries equal (a sum or mean)", "모든 원소가 같음 (합 또는 평균)"),
    "jac.row": ("one row (a reduction to one number)", "한 행 (하나의 수로 줄임)"),
    "jac.dense": ("dense", "밀집 행렬"),
    "jac.not computed": ("too large to compute here", "너무 커서 계산하지 않음"),
    "jac.agrees": ("(agrees with backward)", "(역전파와 일치)"),
    "jac.differs": ("(DIFFERS from backward)", "(역전파와 다름)"),
    # ---- the command line
    "cli.values": ("at {values}", "값: {values}"),
    "cli.unused": ("note: {name} is not used by the expression, so its gradient is 0",
                   "참고: {name}은(는) 식에 쓰이지 않으므로 기울기는 0"),
    "cli.wrote": ("wrote {path}", "저장함: {path}"),
    # ---- the step-through page
    "page.title": ("Backprop, step by step", "역전파 단계별 보기"),
    "page.first": ("First", "처음"),
    "page.prev": ("Back", "이전"),
    "page.next": ("Next", "다음"),
    "page.last": ("Last", "끝"),
    "page.step": ("Step {i} of {n}", "{n}단계 중 {i}단계"),
    "page.keys": ("← → keys step, Home/End jump", "← → 키로 이동, Home/End로 처음/끝"),
    "page.forward": ("Forward pass", "순전파"),
    "page.backward": ("Backward pass", "역전파"),
    "page.inputs": ("The inputs", "입력값"),
    "page.inputs_text": ("Each input's value is written above its edge. The forward pass "
                         "computes the gates from left to right.",
                         "각 입력값이 간선 위에 적혀 있습니다. 순전파는 왼쪽에서 오른쪽으로 "
                         "게이트를 계산합니다."),
    "page.fwd_title": ("{gate} gate computes {out}", "{gate} 게이트가 {out} 계산"),
    "page.fwd_text": ("The gate keeps what its backward pass will need.",
                      "게이트는 역전파에 필요한 값을 저장해 둡니다."),
    "page.seed_title": ("Backward starts at the output", "역전파는 출력에서 시작합니다"),
    "page.seed_text": ("The gradient of {root} with respect to itself is 1; it flows back "
                       "from right to left, written in red beneath the edges.",
                       "{root}을(를) 자기 자신으로 미분하면 1입니다. 기울기는 오른쪽에서 "
                       "왼쪽으로 흐르며 간선 아래에 빨간색으로 적힙니다."),
    "page.bwd_title": ("{gate} gate: upstream × local = downstream",
                       "{gate} 게이트: 상류 × 국소 = 하류"),
    "page.bwd_sum": ("upstream reaching {out}: {sum}", "{out}에 도달한 상류 기울기: {sum}"),
    "page.done_title": ("Done: the gradients", "완료: 기울기"),
    "page.done_text": ("These are the gradients backward computed for every input.",
                       "역전파가 모든 입력에 대해 계산한 기울기입니다."),
    "page.gradients": ("Gradients", "기울기"),
    "page.pending": ("…", "…"),
    "page.legend_value": ("value (forward)", "값 (순전파)"),
    "page.legend_grad": ("gradient (backward)", "기울기 (역전파)"),
    "page.upstream": ("upstream", "상류"),
    "page.local": ("local", "국소"),
    "page.downstream": ("downstream", "하류"),
    "page.practice": ("Practice", "연습"),
    "page.practice_hint": ("Your turn: type the local gradient and the downstream gradient.",
                           "직접 해 보세요: 국소 기울기와 하류 기울기를 입력하세요."),
    "page.check": ("Check", "확인"),
    "page.reveal": ("Show", "보기"),
    "page.right": ("Right: {up} × {local} = {down}", "정답: {up} × {local} = {down}"),
    "page.wrong": ("Not yet (answers within {tol} count). The rule of this gate: {rule}. "
                   "Then downstream = upstream {up} × local.",
                   "아직 아닙니다 ({tol} 이내면 정답). 이 게이트의 규칙: {rule}. "
                   "하류 기울기 = 상류 기울기 {up} × 국소 기울기."),
    "page.lab": ("Try it: other inputs, and a numerical check",
                 "직접 해 보기: 다른 입력값과 수치 미분 확인"),
    "page.lab_text": ("Change an input: every value and gradient is recomputed here in "
                      "the page, by the same rules as backward.",
                      "입력값을 바꾸면 모든 값과 기울기를 역전파와 같은 규칙으로 이 페이지에서 "
                      "다시 계산합니다."),
    "page.numcheck": ("Numerical check", "수치 미분 확인"),
    "page.numcheck_text": ("central difference (f(x+h) − f(x−h)) / 2h, h = 1e-6; agrees when "
                           "|difference| ≤ 1e-6 · (1 + |gradient|)",
                           "중앙 차분 (f(x+h) − f(x−h)) / 2h, h = 1e-6; "
                           "|차이| ≤ 1e-6 · (1 + |기울기|)이면 일치"),
    "page.agree": ("agrees", "일치"),
    "page.disagree": ("DISAGREES", "불일치"),
    "page.constant": ("{name} is a constant: no gradient", "{name}은(는) 상수: 기울기 없음"),
    "page.fanout": ("{name} is used {n} times, so its gradients add up: {sum}",
                    "{name}은(는) {n}곳에 쓰였으므로 기울기를 더합니다: {sum}"),
    "page.rule": ("local gradient", "국소 기울기"),
    "page.graph": ("Computational graph", "계산 그래프"),
    "page.generated": ("made by chainrule", "chainrule로 만듦"),
}

# The local-gradient rule of each gate, as the seed notes state it.
_RULES: dict[str, tuple[str, str]] = {
    "Add": ("∂z/∂x = 1, ∂z/∂y = 1: passes the upstream gradient through",
            "∂z/∂x = 1, ∂z/∂y = 1: 상류 값을 그대로 흘려보냄"),
    "Sub": ("∂z/∂x = 1, ∂z/∂y = −1", "∂z/∂x = 1, ∂z/∂y = −1"),
    "Mul": ("∂z/∂x = y, ∂z/∂y = x: the inputs swapped",
            "∂z/∂x = y, ∂z/∂y = x: 입력을 서로 바꾼 값"),
    "Div": ("∂z/∂x = 1/y, ∂z/∂y = −x/y²", "∂z/∂x = 1/y, ∂z/∂y = −x/y²"),
    "Neg": ("∂z/∂x = −1", "∂z/∂x = −1"),
    "Pow": ("∂z/∂x = p·x^(p−1), ∂z/∂p = z·log x", "∂z/∂x = p·x^(p−1), ∂z/∂p = z·log x"),
    "Exp": ("∂y/∂x = exp(x) = y", "∂y/∂x = exp(x) = y"),
    "Log": ("∂y/∂x = 1/x", "∂y/∂x = 1/x"),
    "Sqrt": ("∂y/∂x = 1/(2√x)", "∂y/∂x = 1/(2√x)"),
    "Abs": ("∂y/∂x = sign(x)", "∂y/∂x = sign(x)"),
    "Sin": ("∂y/∂x = cos x", "∂y/∂x = cos x"),
    "Cos": ("∂y/∂x = −sin x", "∂y/∂x = −sin x"),
    "Tanh": ("∂y/∂x = 1 − y²", "∂y/∂x = 1 − y²"),
    "Sigmoid": ("∂y/∂x = y(1 − y)", "∂y/∂x = y(1 − y)"),
    "ReLU": ("∂y/∂x = 1 where x > 0, else 0", "∂y/∂x = x > 0이면 1, 아니면 0"),
    "Maximum": ("the gradient goes to the larger input (ties share it)",
                "기울기는 더 큰 입력으로 감 (같으면 나눔)"),
    "Minimum": ("the gradient goes to the smaller input (ties share it)",
                "기울기는 더 작은 입력으로 감 (같으면 나눔)"),
    "Where": ("the gradient goes to the branch that was chosen",
              "기울기는 선택된 쪽으로 감"),
    "Clip": ("1 inside [lo, hi], else 0", "[lo, hi] 안이면 1, 아니면 0"),
    "Cast": ("1 (the gradient is converted back to the input's dtype)",
             "1 (기울기를 입력의 dtype으로 되돌림)"),
    "MatMul": ("∂L/∂X = ∂L/∂Z · Yᵀ, ∂L/∂Y = Xᵀ · ∂L/∂Z",
               "∂L/∂X = ∂L/∂Z · Yᵀ, ∂L/∂Y = Xᵀ · ∂L/∂Z"),
    "Affine": ("∂L/∂X = ∂L/∂Y · Wᵀ, ∂L/∂W = Xᵀ · ∂L/∂Y, ∂L/∂B = ∂L/∂Y summed over the batch",
               "∂L/∂X = ∂L/∂Y · Wᵀ, ∂L/∂W = Xᵀ · ∂L/∂Y, ∂L/∂B = ∂L/∂Y의 배치 합"),
    "Sum": ("1 for every element: the gradient is copied back",
            "모든 원소에 1: 기울기를 그대로 복사"),
    "Mean": ("1/n for each of the n elements", "n개 원소 각각에 1/n"),
    "Var": ("∂y/∂x = 2(x − mean)/(n − ddof)", "∂y/∂x = 2(x − mean)/(n − ddof)"),
    "Max": ("the gradient goes to the largest element (ties share it)",
            "기울기는 가장 큰 원소로 감 (같으면 나눔)"),
    "Min": ("the gradient goes to the smallest element (ties share it)",
            "기울기는 가장 작은 원소로 감 (같으면 나눔)"),
    "LogSumExp": ("∂y/∂x = softmax(x)", "∂y/∂x = softmax(x)"),
    "Softmax": ("∂L/∂x = y ⊙ (g − Σ g·y)", "∂L/∂x = y ⊙ (g − Σ g·y)"),
    "LogSoftmax": ("∂L/∂x = g − softmax(x)·Σg", "∂L/∂x = g − softmax(x)·Σg"),
    "SoftmaxCrossEntropy": ("∂L/∂x = (softmax(x) − t) / N", "∂L/∂x = (softmax(x) − t) / N"),
    "Reshape": ("the gradient is reshaped back", "기울기를 원래 형상으로 되돌림"),
    "Transpose": ("the gradient's axes are permuted back", "기울기의 축을 원래대로 되돌림"),
    "BroadcastTo": ("the gradient is summed back to x's shape", "기울기를 x의 형상으로 합산"),
    "SumTo": ("the gradient is broadcast back", "기울기를 다시 브로드캐스트"),
    "ExpandDims": ("the added axes are removed from the gradient", "추가된 축을 기울기에서 제거"),
    "Squeeze": ("the removed axes are restored in the gradient", "제거된 축을 기울기에 복원"),
    "Concatenate": ("the gradient is split into the pieces", "기울기를 조각으로 나눔"),
    "Stack": ("each slice of the gradient goes back to its input",
              "기울기의 각 조각이 해당 입력으로 감"),
    "GetItem": ("the gradient is scattered back (repeated indices add up)",
                "기울기를 제자리로 흩뿌림 (중복 인덱스는 더함)"),
    "ScatterAdd": ("the gradient is gathered at the index", "인덱스 위치의 기울기를 모음"),
    "Conv2d": ("∂L/∂W = colᵀ · ∂L/∂Y, ∂L/∂b = ∂L/∂Y summed over N, H, W, ∂L/∂x = "
               "col2im(∂L/∂Y · Wᵀ): the Affine layer's rule on the im2col columns",
               "∂L/∂W = colᵀ · ∂L/∂Y, ∂L/∂b = ∂L/∂Y의 N, H, W 합, ∂L/∂x = "
               "col2im(∂L/∂Y · Wᵀ): im2col 열에 Affine 계층의 규칙을 적용"),
    "MaxPool2d": ("1 for the maximum of each window (the first one on a tie), 0 for the "
                  "others: the gradient is routed to the winner",
                  "각 윈도우의 최댓값에 1 (같으면 첫 번째), 나머지는 0: 기울기를 최댓값으로 보냄"),
    "AvgPool2d": ("1/k for each of the k inputs of a window",
                  "윈도우의 k개 입력 각각에 1/k"),
    "Im2Col": ("the gradient of each window is added back onto the input (col2im)",
               "각 윈도우의 기울기를 입력 위치에 더함 (col2im)"),
    "Col2Im": ("each window takes the gradient of the positions it covers (im2col)",
               "각 윈도우가 덮는 위치의 기울기를 가져감 (im2col)"),
}


#: Gate names as the Korean edition of Deep Learning from Scratch says them.
_GATE_NAMES_KO: dict[str, str] = {
    "Add": "덧셈 노드", "Sub": "뺄셈 노드", "Mul": "곱셈 노드", "Div": "나눗셈 노드",
    "Neg": "부호 반전 노드", "Pow": "거듭제곱 노드", "Exp": "exp 노드", "Log": "log 노드",
    "Sqrt": "제곱근 노드", "Sum": "합 노드", "Mean": "평균 노드", "Max": "max 노드",
    "Maximum": "max 노드", "Tanh": "tanh 노드", "Sigmoid": "Sigmoid 계층",
    "ReLU": "ReLU 계층", "Affine": "Affine 계층", "MatMul": "행렬 곱 노드",
    "Softmax": "Softmax 계층", "SoftmaxCrossEntropy": "Softmax-with-Loss 계층",
    "Reshape": "형상 변환 노드", "Transpose": "전치 노드", "BroadcastTo": "브로드캐스트 노드",
    "SumTo": "합 노드", "GetItem": "인덱싱 노드", "Conv2d": "합성곱 계층",
    "MaxPool2d": "최대 풀링 계층", "AvgPool2d": "평균 풀링 계층", "Im2Col": "im2col 노드",
    "Col2Im": "col2im 노드",
}


def gate_name(cls: str, lang: str = "en") -> str:
    """How a gate class is named in ``lang``: its class name in English; in Korean the
    Korean DLFS's name with the class name after it (``곱셈 노드 Mul``)."""
    if check_lang(lang) == "ko" and cls in _GATE_NAMES_KO:
        return f"{_GATE_NAMES_KO[cls]} {cls}"
    return cls


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is supported, else raise a :class:`ChainruleError`."""
    if lang not in LANGS:
        raise LanguageError(f"lang={lang!r} is not supported; use one of "
                            f"{', '.join(repr(x) for x in LANGS)} (English or Korean)")
    return lang


#: Korean particles that depend on whether the word before ends in a consonant sound
#: (받침): with one, without one.
_PARTICLES = {"은(는)": ("은", "는"), "이(가)": ("이", "가"), "을(를)": ("을", "를")}
_PARTICLE_RE = re.compile(r"\{(\w+)\}(은\(는\)|이\(가\)|을\(를\))")
#: Latin letters and digits whose Korean reading ends in a consonant: L (엘), M (엠),
#: N (엔), R (알); 0 (영), 1 (일), 3 (삼), 6 (육), 7 (칠), 8 (팔).
_CONSONANT_FINAL = set("lmnrLMNR013678")


def has_final_consonant(word: str) -> bool:
    """Whether ``word`` ends in a consonant sound when read in Korean (Hangul by its
    받침, Latin letters and digits by their Korean names: ``b`` 비, ``n`` 엔, ``2`` 이)."""
    for ch in reversed(word.strip()):
        if "가" <= ch <= "힣":
            return (ord(ch) - ord("가")) % 28 != 0
        if ch.isalnum():
            return ch in _CONSONANT_FINAL
    return False


def particle(word: str, pair: str) -> str:
    """The form of the particle ``pair`` (``"은(는)"``, ``"이(가)"``, ``"을(를)"``) that
    follows ``word``: ``particle("x", "은(는)") == "는"``, ``particle("n", ...) == "은"``."""
    with_final, without = _PARTICLES[pair]
    return with_final if has_final_consonant(word) else without


def text(key: str, lang: str = "en", **fields: object) -> str:
    """The label ``key`` in ``lang``, with ``{fields}`` filled in; in Korean a particle
    after a field is chosen for the word it follows (``b는``, ``n은``), not ``은(는)``."""
    en, ko = _TEXT[key]
    s = ko if check_lang(lang) == "ko" else en
    if not fields:
        return s
    if lang == "ko":
        s = _PARTICLE_RE.sub(lambda m: "{" + m.group(1) + "}" + particle(
            str(fields.get(m.group(1), "")), m.group(2)), s)
    return s.format(**fields)


def rule(gate: str, lang: str = "en", doc: str | None = None) -> str:
    """The local-gradient rule of the gate class named ``gate``.

    Gates chainrule does not know (user-defined ones) fall back to the first line of
    their docstring ``doc``, or to an empty string.
    """
    pair = _RULES.get(gate)
    if pair is None:
        return (doc or "").strip().split("\n", 1)[0].strip()
    return pair[1] if check_lang(lang) == "ko" else pair[0]


def page_labels(lang: str = "en") -> dict[str, str]:
    """The ``page.*`` labels in ``lang`` that the step-through page's JavaScript uses.
    Templates whose Korean particle depends on a word (``{name}은(는)``) are filled in
    Python, where the word is known, and are not sent."""
    check_lang(lang)
    return {k[5:]: text(k, lang) for k in _TEXT
            if k.startswith("page.") and not _PARTICLE_RE.search(_TEXT[k][1])}
