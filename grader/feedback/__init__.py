"""What a failing check tells the student: comparisons, the grading policy, likely causes, pointers."""
