"""The book's tables and worked examples, reproduced: chapter 1 (``chapter1``), chapters 3
and 5 (``chapters``), chapter 6 (``chapter6``), the baselines of chapter 1 (``baselines``)
and the primer's single-chain trace (``trace``)."""
