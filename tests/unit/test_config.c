#include "testing.h"
int main(void)
{
	END_TEST;
}
